#include "proto/base64.h"

#include <gtest/gtest.h>

#include <string>

namespace l4lb::proto {
namespace {

using namespace std::string_literals;

TEST(Base64Test, EncodesAndDecodesCanonicalTextOnly) {
  EXPECT_EQ(base64Encode("n,,"), "biws");
  EXPECT_EQ(base64Encode(""), "");
  EXPECT_EQ(base64Encode("a"), "YQ==");
  EXPECT_EQ(base64Encode("/services/redis/"), "L3NlcnZpY2VzL3JlZGlzLw==");
  EXPECT_EQ(base64Decode(""), "");
  EXPECT_EQ(base64Decode("YQ=="), "a");
  EXPECT_EQ(base64Decode("YWI="), "ab");
  EXPECT_EQ(base64Decode("\x00\xff"s), std::nullopt);
  EXPECT_EQ(base64Decode("YQ="), std::nullopt);
  EXPECT_EQ(base64Decode("abc"), std::nullopt);   // not a multiple of 4
  EXPECT_EQ(base64Decode("a!c="), std::nullopt);  // not the alphabet
  EXPECT_EQ(base64Decode("Y Q=="), std::nullopt);
  EXPECT_EQ(base64Decode("YR=="), std::nullopt);  // not canonical
  for (const std::string& bytes : {""s, "a"s, "ab"s, "abc"s, "\x00\x01\xfe\xff salt"s}) {
    EXPECT_EQ(base64Decode(base64Encode(bytes)), bytes);
  }
}

TEST(Base64Test, TextLongerThanTheCapIsRefused) {
  const std::string bytes(3 * (kBase64DefaultMaxText / 4) + 3, 'x');  // one block too many
  const std::string text = base64Encode(bytes);
  ASSERT_EQ(text.size(), kBase64DefaultMaxText + 4);
  EXPECT_EQ(base64Decode(text), std::nullopt);
  EXPECT_EQ(base64Decode(text, text.size()), bytes);
  EXPECT_EQ(base64Decode(text, text.size() - 4), std::nullopt);
  const std::string at_cap = base64Encode(std::string(3 * (kBase64DefaultMaxText / 4), 'y'));
  ASSERT_EQ(at_cap.size(), kBase64DefaultMaxText);
  EXPECT_TRUE(base64Decode(at_cap));
}

}  // namespace
}  // namespace l4lb::proto
