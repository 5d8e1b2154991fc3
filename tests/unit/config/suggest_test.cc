#include "config/suggest.h"

#include <gtest/gtest.h>

#include <array>
#include <string_view>

namespace l4lb::config {
namespace {

using namespace std::string_view_literals;

TEST(SuggestTest, EditDistance) {
  EXPECT_EQ(editDistance("", ""), 0U);
  EXPECT_EQ(editDistance("bind", "bind"), 0U);
  EXPECT_EQ(editDistance("bnd", "bind"), 1U);
  EXPECT_EQ(editDistance("bidn", "bind"), 1U);  // a swap is one edit
  EXPECT_EQ(editDistance("workers", "worker"), 1U);
  EXPECT_EQ(editDistance("kitten", "sitting"), 3U);
  EXPECT_EQ(editDistance("", "abc"), 3U);
}

TEST(SuggestTest, ClosestMatchWithinTwoEdits) {
  constexpr std::array keys = {"name"sv, "bind"sv, "pool"sv, "idle_timeout"sv, "backlog"sv};
  EXPECT_EQ(closestMatch("bnid", keys), "bind");
  EXPECT_EQ(closestMatch("idle-timeout", keys), "idle_timeout");
  EXPECT_EQ(closestMatch("pools", keys), "pool");
  EXPECT_EQ(closestMatch("address", keys), std::nullopt);
  EXPECT_EQ(closestMatch("x", keys), std::nullopt);
  EXPECT_EQ(didYouMean("nme", keys), " (did you mean \"name\"?)");
  EXPECT_EQ(didYouMean("zzzzzz", keys), "");
}

TEST(SuggestTest, QuotedList) {
  constexpr std::array one = {"a"sv};
  constexpr std::array three = {"a"sv, "b"sv, "c"sv};
  EXPECT_EQ(quotedList(one), "\"a\"");
  EXPECT_EQ(quotedList(three), "\"a\", \"b\" or \"c\"");
}

TEST(SuggestTest, QuotedEscapesAndTruncates) {
  EXPECT_EQ(quoteText("a\"b\\c"), "\"a\\\"b\\\\c\"");
  EXPECT_EQ(quoteText(std::string_view("a\nb\0c", 5)), "\"a\\x0ab\\x00c\"");
  EXPECT_EQ(quoteText(std::string(100, 'x')), "\"" + std::string(80, 'x') + "...\"");
}

}  // namespace
}  // namespace l4lb::config
