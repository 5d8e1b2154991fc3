// The operator's controls as a worker applies them: an admin state that combines with health
// and ejection, and weight changes (Maglev through a rebuilt table).
#include <gtest/gtest.h>

#include <memory>

#include "backend_names.h"
#include "balance/backend_health.h"
#include "balance/maglev.h"
#include "balance_test_util.h"

namespace l4lb::balance {
namespace {

using testing::countPicks;
using testing::hashed;
using testing::makeBalancer;
using testing::weightedBackends;

BackendHealth::Options checked() {
  BackendHealth::Options options;
  options.pool = "test";
  options.active_checks = true;
  options.eject_after = 1;
  options.eject_for_ms = 1000;
  return options;
}

TEST(AdminControlsTest, NewConnectionsNeedAdminAndHealthAndNoEjection) {
  auto balancer = makeBalancer(Algorithm::kRoundRobin, {1, 1});
  BackendHealth health(checked(), *balancer, backendNames(2), 0);
  health.setActiveUp(0, true, false, 0);
  health.setActiveUp(1, true, false, 0);
  EXPECT_TRUE(balancer->isUp(0));

  health.setAdminAllowed(0, false, 0);  // drained: the checks' "up" does not bring it back
  EXPECT_FALSE(balancer->isUp(0));
  EXPECT_TRUE(health.servesExisting(0));  // but open datagram flows stay
  health.setActiveUp(0, true, false, 10);
  EXPECT_FALSE(balancer->isUp(0));
  EXPECT_EQ(countPicks(*balancer, 10), (std::vector<int>{0, 10}));

  health.setAdminAllowed(0, true, 20);
  EXPECT_TRUE(balancer->isUp(0));
  health.setActiveUp(0, false, false, 30);  // enabled but down
  EXPECT_FALSE(balancer->isUp(0));
  health.setActiveUp(0, true, false, 40);
  EXPECT_TRUE(health.onOutcome(0, false, 50));  // enabled, up, but ejected
  EXPECT_FALSE(balancer->isUp(0));
  health.tick(2000);
  EXPECT_TRUE(balancer->isUp(0));
}

TEST(AdminControlsTest, AllDrainedLeavesOnlyBackups) {
  std::vector<BackendSlot> slots = weightedBackends({1, 1});
  slots[1].backup = true;
  auto balancer = makeBalancerPlan(Algorithm::kRoundRobin, slots, 0)->instantiate(0);
  BackendHealth health(BackendHealth::Options{}, *balancer, backendNames(2), 0);
  EXPECT_EQ(countPicks(*balancer, 4), (std::vector<int>{4, 0}));
  health.setAdminAllowed(0, false, 0);
  EXPECT_EQ(countPicks(*balancer, 4), (std::vector<int>{0, 4}));
  health.setAdminAllowed(1, false, 0);
  EXPECT_EQ(balancer->pick(PickRequest{}), kNoBackend);
}

TEST(AdminControlsTest, WeightChangeShiftsRoundRobinExactly) {
  auto balancer = makeBalancer(Algorithm::kRoundRobin, {1, 1});
  BackendHealth health(BackendHealth::Options{}, *balancer, backendNames(2), 0);
  health.setFullWeight(0, 3, 0);
  EXPECT_EQ(health.fullWeight(0), 3U);
  // A smooth round-robin round after the change: 3:1 in every 4 picks.
  (void)countPicks(*balancer, 4);
  EXPECT_EQ(countPicks(*balancer, 400), (std::vector<int>{300, 100}));
}

TEST(AdminControlsTest, WeightChangeShiftsRandomTwoAndLeastConn) {
  for (const Algorithm algorithm : {Algorithm::kRandomTwo, Algorithm::kLeastConn}) {
    auto balancer = makeBalancer(algorithm, {1, 1}, 7);
    BackendHealth health(BackendHealth::Options{}, *balancer, backendNames(2), 0);
    health.setFullWeight(1, 4, 0);
    // Open connections that stay open: the loads follow the weights.
    std::vector<int> counts(2, 0);
    for (int i = 0; i < 1000; ++i) {
      const std::uint32_t b = balancer->pick(PickRequest{});
      ASSERT_NE(b, kNoBackend);
      balancer->onConnectionOpened(b);
      ++counts[b];
    }
    EXPECT_NEAR(counts[1], 800, 40) << algorithmName(algorithm);
  }
}

TEST(AdminControlsTest, SlowStartRampClimbsToTheNewWeight) {
  auto balancer = makeBalancer(Algorithm::kRoundRobin, {100, 100});
  BackendHealth::Options options;
  options.active_checks = true;
  options.slow_start_ms = 1000;
  BackendHealth health(options, *balancer, backendNames(2), 0);
  health.setActiveUp(0, true, false, 0);
  health.setActiveUp(0, false, false, 0);
  health.setActiveUp(0, true, /*ramp=*/true, 0);
  health.setFullWeight(0, 300, 500);
  EXPECT_EQ(balancer->weight(0), 150U);  // halfway up the ramp to 300
  health.tick(1000);
  EXPECT_EQ(balancer->weight(0), 300U);
}

TEST(AdminControlsTest, MaglevTakesARebuiltTable) {
  auto slots = weightedBackends({1, 1});
  auto plan = makeBalancerPlan(Algorithm::kMaglev, slots, 1009);
  auto balancer = plan->instantiate(0);
  slots[0].weight = 3;
  auto table = std::make_shared<const MaglevTable>(slots, 1009);
  static_cast<MaglevBalancer&>(*balancer).setTable(table);
  std::vector<int> counts(2, 0);
  for (std::uint64_t h = 0; h < 20000; ++h)
    ++counts[balancer->pick(hashed(h * 0x9e3779b97f4a7c15ULL))];
  EXPECT_NEAR(counts[0], 15000, 600);
}

TEST(AdminControlsTest, CountersFollowOpensClosesAndFailures) {
  auto balancer = makeBalancer(Algorithm::kRoundRobin, {1, 1});
  BackendHealth health(BackendHealth::Options{}, *balancer, backendNames(2), 0);
  balancer->onConnectionOpened(0);
  balancer->onConnectionOpened(0);
  balancer->onConnectionClosed(0);
  (void)health.onOutcome(0, false, 0);
  (void)health.onOutcome(0, true, 0);
  (void)health.onOutcome(0, false, 0, BackendHealth::Failure::kReset);
  (void)health.onOutcome(0, false, 0, BackendHealth::Failure::kReset);
  EXPECT_EQ(balancer->counters(0).active.get(), 1U);
  EXPECT_EQ(balancer->counters(0).total.get(), 2U);
  // A reset after connecting is not a connect failure (defect 10): each has its counter.
  EXPECT_EQ(balancer->counters(0).connect_failures.get(), 1U);
  EXPECT_EQ(balancer->counters(0).resets.get(), 2U);
  EXPECT_EQ(balancer->counters(1).total.get(), 0U);
}

}  // namespace
}  // namespace l4lb::balance
