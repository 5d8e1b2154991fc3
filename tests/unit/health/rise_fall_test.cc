#include <gtest/gtest.h>

#include "health/health_state.h"

namespace l4lb::health {
namespace {

TEST(RiseFallCounterTest, FirstResultDecidesAtOnce) {
  RiseFallCounter up(2, 3);
  EXPECT_TRUE(up.record(true));
  EXPECT_EQ(up.state(), control::BackendState::kUp);
  RiseFallCounter down(2, 3);
  EXPECT_TRUE(down.record(false));
  EXPECT_EQ(down.state(), control::BackendState::kDown);
}

TEST(RiseFallCounterTest, FallConsecutiveFailuresTakeItDown) {
  RiseFallCounter counter(2, 3);
  ASSERT_TRUE(counter.record(true));
  EXPECT_FALSE(counter.record(false));
  EXPECT_FALSE(counter.record(false));
  EXPECT_FALSE(counter.record(true));  // the streak starts over
  EXPECT_FALSE(counter.record(false));
  EXPECT_FALSE(counter.record(false));
  EXPECT_EQ(counter.state(), control::BackendState::kUp);
  EXPECT_TRUE(counter.record(false));
  EXPECT_EQ(counter.state(), control::BackendState::kDown);
}

TEST(RiseFallCounterTest, RiseConsecutiveSuccessesBringItUp) {
  RiseFallCounter counter(2, 1);
  ASSERT_TRUE(counter.record(false));
  EXPECT_FALSE(counter.record(true));
  EXPECT_FALSE(counter.record(false));
  EXPECT_FALSE(counter.record(true));
  EXPECT_TRUE(counter.record(true));
  EXPECT_EQ(counter.state(), control::BackendState::kUp);
  EXPECT_TRUE(counter.record(false));  // fall = 1
}

}  // namespace
}  // namespace l4lb::health
