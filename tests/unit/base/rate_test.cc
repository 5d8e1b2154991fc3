#include "base/rate.h"

#include <gtest/gtest.h>

namespace l4lb::base {
namespace {

TEST(RateTest, ParsesUnits) {
  std::string error;
  auto per_second = parseRate("100/s", error);
  ASSERT_TRUE(per_second) << error;
  EXPECT_EQ(per_second->count, 100U);
  EXPECT_EQ(per_second->period_ms, 1000);
  EXPECT_EQ(parseRate("600/m", error)->period_ms, 60'000);
  EXPECT_EQ(parseRate("5/h", error)->period_ms, 3'600'000);
}

TEST(RateTest, RejectsWithReason) {
  std::string error;
  EXPECT_FALSE(parseRate("100", error));
  EXPECT_NE(error.find("COUNT/UNIT"), std::string::npos) << error;
  EXPECT_FALSE(parseRate("100/d", error));
  EXPECT_NE(error.find("unknown unit \"d\""), std::string::npos) << error;
  EXPECT_FALSE(parseRate("0/s", error));
  EXPECT_NE(error.find("between 1 and 1000000"), std::string::npos) << error;
  EXPECT_FALSE(parseRate("x/s", error));
  EXPECT_FALSE(parseRate("/s", error));
  EXPECT_FALSE(parseRate("-1/s", error));
  EXPECT_FALSE(parseRate("99999999999999999999/s", error));
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
