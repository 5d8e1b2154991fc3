#include "balance/backend_health.h"

#include <gtest/gtest.h>

#include <map>

#include "backend_names.h"
#include "balance_test_util.h"

namespace l4lb::balance {
namespace {

using testing::makeBalancer;

BackendHealth::Options passive(std::uint32_t eject_after, std::int64_t eject_for_ms) {
  BackendHealth::Options options;
  options.pool = "test";
  options.eject_after = eject_after;
  options.eject_for_ms = eject_for_ms;
  return options;
}

TEST(BackendHealthTest, EjectsAfterConsecutiveFailures) {
  auto balancer = makeBalancer(Algorithm::kRoundRobin, {1, 1});
  BackendHealth health(passive(3, 1000), *balancer, backendNames(2), 0);
  EXPECT_FALSE(health.onOutcome(0, false, 0));
  EXPECT_FALSE(health.onOutcome(0, false, 0));
  EXPECT_FALSE(health.onOutcome(0, true, 0));  // a success starts the count over
  EXPECT_FALSE(health.onOutcome(0, false, 0));
  EXPECT_FALSE(health.onOutcome(0, false, 0));
  EXPECT_TRUE(balancer->isUp(0));
  EXPECT_TRUE(health.onOutcome(0, false, 10));
  EXPECT_FALSE(balancer->isUp(0));
  EXPECT_EQ(health.ejectedUntil(0), 1010);
  for (int i = 0; i < 10; ++i) EXPECT_EQ(balancer->pick(PickRequest{}), 1U);
}

TEST(BackendHealthTest, BackoffDoublesOnProbationAndResetsOnSuccess) {
  auto balancer = makeBalancer(Algorithm::kRoundRobin, {1, 1});
  BackendHealth health(passive(2, 1000), *balancer, backendNames(2), 0);
  health.onOutcome(0, false, 0);
  ASSERT_TRUE(health.onOutcome(0, false, 0));
  health.tick(999);
  EXPECT_FALSE(balancer->isUp(0));
  health.tick(1000);
  EXPECT_TRUE(balancer->isUp(0));  // readmitted on probation
  // One failure on probation ejects again, for twice as long.
  ASSERT_TRUE(health.onOutcome(0, false, 1000));
  EXPECT_EQ(health.ejectedUntil(0), 3000);
  health.tick(3000);
  ASSERT_TRUE(health.onOutcome(0, false, 3000));
  EXPECT_EQ(health.ejectedUntil(0), 7000);
  health.tick(7000);
  EXPECT_FALSE(health.onOutcome(0, true, 7000));  // probation passed: backoff resets
  health.onOutcome(0, false, 8000);
  ASSERT_TRUE(health.onOutcome(0, false, 8000));
  EXPECT_EQ(health.ejectedUntil(0), 9000);
  EXPECT_EQ(health.ejections(), 4U);
  // Counted per backend too, for l4lb_backend_ejections_total and the API.
  EXPECT_EQ(balancer->counters(0).ejections.get(), 4U);
  EXPECT_EQ(balancer->counters(1).ejections.get(), 0U);
}

TEST(BackendHealthTest, BackoffIsCappedAtFiveMinutes) {
  auto balancer = makeBalancer(Algorithm::kRoundRobin, {1});
  BackendHealth health(passive(1, 60'000), *balancer, backendNames(1), 0);
  std::int64_t now = 0;
  for (int i = 0; i < 6; ++i) {
    ASSERT_TRUE(health.onOutcome(0, false, now));
    now = health.ejectedUntil(0);
    health.tick(now);
  }
  ASSERT_TRUE(health.onOutcome(0, false, now));
  EXPECT_EQ(health.ejectedUntil(0) - now, BackendHealth::kMaxEjectionMs);
}

TEST(BackendHealthTest, WithActiveChecksReadmittedOnlyWhenCheckSaysUp) {
  auto balancer = makeBalancer(Algorithm::kRoundRobin, {1, 1});
  BackendHealth::Options options = passive(1, 100);
  options.active_checks = true;
  BackendHealth health(options, *balancer, backendNames(2), 0);
  EXPECT_FALSE(balancer->isUp(0));  // unknown until the first check
  health.setActiveUp(0, true, false, 0);
  health.setActiveUp(1, true, false, 0);
  ASSERT_TRUE(health.onOutcome(0, false, 0));
  health.setActiveUp(0, false, false, 50);
  health.tick(200);
  EXPECT_FALSE(balancer->isUp(0));
  health.setActiveUp(0, true, true, 300);
  health.tick(300);
  EXPECT_TRUE(balancer->isUp(0));
}

TEST(BackendHealthTest, NoEjectionWhenDisabled) {
  auto balancer = makeBalancer(Algorithm::kRoundRobin, {1});
  BackendHealth health(passive(0, 1000), *balancer, backendNames(1), 0);
  for (int i = 0; i < 100; ++i) EXPECT_FALSE(health.onOutcome(0, false, 0));
  EXPECT_TRUE(balancer->isUp(0));
}

TEST(BackendHealthTest, SlowStartRampsWeightFromNearZero) {
  auto balancer = makeBalancer(Algorithm::kRoundRobin, {100, 100});
  BackendHealth::Options options;
  options.pool = "test";
  options.slow_start_ms = 1000;
  options.active_checks = true;
  BackendHealth health(options, *balancer, backendNames(2), 0);
  health.setActiveUp(0, true, false, 0);
  health.setActiveUp(1, true, false, 0);
  EXPECT_EQ(balancer->weight(1), 100U);  // first verdict at startup: no ramp
  health.setActiveUp(1, false, false, 100);
  health.setActiveUp(1, true, true, 1000);
  EXPECT_EQ(balancer->weight(1), 1U);
  std::uint32_t last = 0;
  for (std::int64_t t = 1100; t <= 2000; t += 100) {
    health.tick(t);
    EXPECT_GT(balancer->weight(1), last) << t;
    last = balancer->weight(1);
  }
  EXPECT_EQ(balancer->weight(1), 100U);
  // Shares follow: at a quarter of the ramp the newcomer gets about a fifth of the picks.
  health.setActiveUp(1, false, false, 3000);
  health.setActiveUp(1, true, true, 3000);
  health.tick(3250);
  std::map<std::uint32_t, int> picks;
  for (int i = 0; i < 1250; ++i) ++picks[balancer->pick(PickRequest{})];
  EXPECT_EQ(picks[1], 250);
}

TEST(BalancerBackupTest, BackupOnlyWhileNoPrimaryIsUp) {
  std::vector<BackendSlot> slots = {{"p0", 1, false}, {"p1", 1, false}, {"b", 1, true}};
  for (Algorithm algorithm : {Algorithm::kRoundRobin, Algorithm::kLeastConn, Algorithm::kRandomTwo,
                              Algorithm::kMaglev, Algorithm::kFirst}) {
    auto balancer = makeBalancerPlan(algorithm, slots, kDefaultMaglevTableSize)->instantiate(1);
    for (std::uint64_t i = 0; i < 200; ++i) {
      EXPECT_NE(balancer->pick(testing::hashed(i * 7919)), 2U);
    }
    balancer->setUp(0, false);
    for (std::uint64_t i = 0; i < 200; ++i) {
      EXPECT_EQ(balancer->pick(testing::hashed(i * 7919)), 1U);
    }
    balancer->setUp(1, false);
    EXPECT_EQ(balancer->primariesUp(), 0U);
    for (std::uint64_t i = 0; i < 200; ++i) {
      EXPECT_EQ(balancer->pick(testing::hashed(i * 7919)), 2U);
    }
    balancer->setUp(2, false);
    EXPECT_EQ(balancer->pick(testing::hashed(1)), kNoBackend);
    balancer->setUp(1, true);
    balancer->setUp(2, true);
    for (std::uint64_t i = 0; i < 200; ++i) {
      EXPECT_EQ(balancer->pick(testing::hashed(i * 7919)), 1U);
    }
  }
}

TEST(BalancerBackupTest, PoolOfOnlyBackupsUsesThem) {
  std::vector<BackendSlot> slots = {{"b0", 1, true}, {"b1", 1, true}};
  auto balancer =
      makeBalancerPlan(Algorithm::kRoundRobin, slots, kDefaultMaglevTableSize)->instantiate(0);
  EXPECT_NE(balancer->pick(PickRequest{}), kNoBackend);
}

}  // namespace
}  // namespace l4lb::balance
