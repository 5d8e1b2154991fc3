#include "base/rate.h"

#include <gtest/gtest.h>

namespace l4lb::base {
namespace {

TEST(RateTest, ParsesUnits) {
  auto per_second = parseRate("100/s");
  ASSERT_TRUE(per_second) << per_second.error().message();
  EXPECT_EQ(per_second->count, 100U);
  EXPECT_EQ(per_second->period_ms, 1000);
  EXPECT_EQ(parseRate("600/m")->period_ms, 60'000);
  EXPECT_EQ(parseRate("5/h")->period_ms, 3'600'000);
}

TEST(RateTest, RejectsWithReason) {
  auto why = [](std::string_view text) {
    auto parsed = parseRate(text);
    EXPECT_FALSE(parsed) << text;
    return parsed ? std::string() : parsed.error().message();
  };
  EXPECT_NE(why("100").find("COUNT/UNIT"), std::string::npos);
  EXPECT_NE(why("100/d").find("unknown unit \"d\""), std::string::npos);
  EXPECT_NE(why("0/s").find("between 1 and 1000000"), std::string::npos);
  EXPECT_NE(why("x/s").find("not a whole number"), std::string::npos);
  EXPECT_FALSE(parseRate("/s"));
  EXPECT_FALSE(parseRate("-1/s"));
  EXPECT_FALSE(parseRate("99999999999999999999/s"));
}

TEST(TokenBucketTest, BurstThenEvenRefill) {
  const Rate rate{4, 1000};  // 4 per second: one token every 250 ms
  TokenBucket bucket(rate, 0);
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(bucket.take(rate, 0)) << i;
  EXPECT_FALSE(bucket.take(rate, 0));
  EXPECT_FALSE(bucket.take(rate, 249));
  EXPECT_TRUE(bucket.take(rate, 250));
  EXPECT_FALSE(bucket.take(rate, 250));
  EXPECT_FALSE(bucket.full(rate, 1000));
  EXPECT_TRUE(bucket.full(rate, 1250));
  // Refill stops at capacity: a long pause allows one burst, not more.
  for (int i = 0; i < 4; ++i) EXPECT_TRUE(bucket.take(rate, 100'000)) << i;
  EXPECT_FALSE(bucket.take(rate, 100'000));
}

TEST(TokenBucketTest, TimeGoingBackwardsGrantsNothing) {
  const Rate rate{1, 1000};
  TokenBucket bucket(rate, 5000);
  EXPECT_TRUE(bucket.take(rate, 5000));
  EXPECT_FALSE(bucket.take(rate, 4000));
  EXPECT_TRUE(bucket.take(rate, 6000));
}

}  // namespace
}  // namespace l4lb::base
