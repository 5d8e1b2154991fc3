#include "base/duration.h"

#include <gtest/gtest.h>

#include <chrono>
#include <string_view>

namespace l4lb::base {
namespace {

using namespace std::chrono_literals;

TEST(DurationTest, EachUnit) {
  EXPECT_EQ(parseDuration("250ms"), Duration(250));
  EXPECT_EQ(parseDuration("2s"), Duration(2000));
  EXPECT_EQ(parseDuration("10m"), Duration(10min));
  EXPECT_EQ(parseDuration("1h"), Duration(1h));
  EXPECT_EQ(parseDuration("1d"), Duration(24h));
  EXPECT_EQ(parseDuration("0s"), Duration(0));
  EXPECT_EQ(parseDuration("0ms"), Duration(0));
}

TEST(DurationTest, Combinations) {
  EXPECT_EQ(parseDuration("1m30s"), Duration(90s));
  EXPECT_EQ(parseDuration("1h30m"), Duration(90min));
  EXPECT_EQ(parseDuration("2s500ms"), Duration(2500));
  EXPECT_EQ(parseDuration("1h1m1s1ms"), Duration(3'661'001));
  // Units may repeat or come in any order; they just add up.
  EXPECT_EQ(parseDuration("30s1m"), Duration(90s));
}

TEST(DurationTest, LeadingZerosAreDigits) { EXPECT_EQ(parseDuration("007s"), Duration(7s)); }

TEST(DurationTest, RejectsEmpty) { EXPECT_EQ(parseDuration(""), std::nullopt); }

TEST(DurationTest, RejectsBareNumber) {
  EXPECT_EQ(parseDuration("10"), std::nullopt);
  EXPECT_EQ(parseDuration("1m30"), std::nullopt);
}

TEST(DurationTest, RejectsUnknownUnit) {
  EXPECT_EQ(parseDuration("5x"), std::nullopt);
  EXPECT_EQ(parseDuration("5sec"), std::nullopt);
  EXPECT_EQ(parseDuration("5S"), std::nullopt);
  EXPECT_EQ(parseDuration("5us"), std::nullopt);
}

TEST(DurationTest, RejectsSignsSpacesAndFractions) {
  EXPECT_EQ(parseDuration("-1s"), std::nullopt);
  EXPECT_EQ(parseDuration("+1s"), std::nullopt);
  EXPECT_EQ(parseDuration(" 1s"), std::nullopt);
  EXPECT_EQ(parseDuration("1s "), std::nullopt);
  EXPECT_EQ(parseDuration("1 s"), std::nullopt);
  EXPECT_EQ(parseDuration("1.5s"), std::nullopt);
  EXPECT_EQ(parseDuration("s"), std::nullopt);
}

TEST(DurationTest, RejectsOverflow) {
  EXPECT_EQ(parseDuration("99999999999999999999s"), std::nullopt);
  EXPECT_EQ(parseDuration("1000000000001ms"), std::nullopt);
  EXPECT_EQ(parseDuration("999999999999h"), std::nullopt);
  EXPECT_EQ(parseDuration("999999999999h999999999999h"), std::nullopt);
}

// Regression guard: number * scale is computed before the overflow check, so a large day count
// overflows int64 (undefined behaviour; in practice it wraps to a negative duration). Disabled
// until base/duration.cc checks before multiplying.
TEST(DurationTest, RejectsOverflowInDays) {
  EXPECT_EQ(parseDuration("200000000000d"), std::nullopt);
}

TEST(DurationTest, LargestAcceptedValuesStayPositive) {
  auto d = parseDuration("1000000000000ms");
  ASSERT_TRUE(d.has_value());
  EXPECT_EQ(d->count(), 1'000'000'000'000);
}

TEST(DurationTest, FormatPicksTheLargestExactUnit) {
  EXPECT_EQ(formatDuration(Duration(0)), "0ms");
  EXPECT_EQ(formatDuration(Duration(1)), "1ms");
  EXPECT_EQ(formatDuration(Duration(1500)), "1500ms");
  EXPECT_EQ(formatDuration(2s), "2s");
  EXPECT_EQ(formatDuration(90s), "90s");
  EXPECT_EQ(formatDuration(10min), "10m");
  EXPECT_EQ(formatDuration(1h), "1h");
  EXPECT_EQ(formatDuration(24h), "24h");
}

TEST(DurationTest, FormatRoundTrips) {
  for (std::string_view text : {"250ms", "2s", "10m", "1h", "1m30s", "1h1m1s1ms", "1d", "0s"}) {
    auto d = parseDuration(text);
    ASSERT_TRUE(d.has_value()) << text;
    EXPECT_EQ(parseDuration(formatDuration(*d)), d) << text << " -> " << formatDuration(*d);
  }
}

}  // namespace
}  // namespace l4lb::base
