#include "worker/connection_limits.h"

#include <gtest/gtest.h>

namespace l4lb::worker {
namespace {

TEST(ConnectionLimitsTest, ListenerLimit) {
  ConnectionLimits limits(0, {2, 0});
  EXPECT_TRUE(limits.limits(0));
  EXPECT_FALSE(limits.limits(1));
  EXPECT_TRUE(limits.tryAcquire(0));
  EXPECT_TRUE(limits.tryAcquire(0));
  EXPECT_FALSE(limits.tryAcquire(0));
  EXPECT_EQ(limits.active(0), 2U);
  limits.release(0);
  EXPECT_TRUE(limits.tryAcquire(0));
}

TEST(ConnectionLimitsTest, GlobalLimitSpansListeners) {
  ConnectionLimits limits(3, {0, 5});
  EXPECT_TRUE(limits.limits(0));
  EXPECT_TRUE(limits.tryAcquire(0));
  EXPECT_TRUE(limits.tryAcquire(1));
  EXPECT_TRUE(limits.tryAcquire(1));
  EXPECT_FALSE(limits.tryAcquire(0));
  EXPECT_FALSE(limits.tryAcquire(1));
  EXPECT_EQ(limits.active(1), 2U);  // a refusal takes nothing
  limits.release(1);
  EXPECT_TRUE(limits.tryAcquire(0));
}

TEST(ConnectionLimitsTest, RefusedByListenerGivesBackTheGlobalSlot) {
  ConnectionLimits limits(2, {1, 0});
  EXPECT_TRUE(limits.tryAcquire(0));
  EXPECT_FALSE(limits.tryAcquire(0));  // listener 0 full
  EXPECT_TRUE(limits.tryAcquire(1));   // the global slot it tried is free again
  EXPECT_FALSE(limits.tryAcquire(1));  // now global is full
}

}  // namespace
}  // namespace l4lb::worker
