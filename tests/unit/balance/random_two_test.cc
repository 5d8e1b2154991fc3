#include "balance/random_two.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <vector>

#include "balance_test_util.h"

namespace l4lb::balance {
namespace {

using testing::countPicks;
using testing::makeBalancer;
using testing::pickSequence;

TEST(RandomTwo, SameSeedReplaysTheSamePicks) {
  const auto a = makeBalancer(Algorithm::kRandomTwo, {1, 2, 3, 4, 5}, 42);
  const auto b = makeBalancer(Algorithm::kRandomTwo, {1, 2, 3, 4, 5}, 42);
  const auto c = makeBalancer(Algorithm::kRandomTwo, {1, 2, 3, 4, 5}, 43);
  const std::vector<std::uint32_t> from_a = pickSequence(*a, 200);
  EXPECT_EQ(from_a, pickSequence(*b, 200));
  EXPECT_NE(from_a, pickSequence(*c, 200));
}

TEST(RandomTwo, IdleBackendsArePickedInProportionToWeight) {
  // With no connections every pair ties and the first draw wins, so picks follow weight.
  const auto balancer = makeBalancer(Algorithm::kRandomTwo, {3, 1}, 7);
  const std::vector<int> counts = countPicks(*balancer, 20000);
  EXPECT_NEAR(counts[0], 15000, 400);
  EXPECT_NEAR(counts[1], 5000, 400);
}

TEST(RandomTwo, NeverPicksTheMostLoadedOfDistinctPair) {
  // Two draws are always distinct, so a backend busier than all others can never win.
  const auto balancer = makeBalancer(Algorithm::kRandomTwo, {1, 1, 1, 1}, 1);
  for (int i = 0; i < 100; ++i) balancer->onConnectionOpened(2);
  EXPECT_EQ(countPicks(*balancer, 5000)[2], 0);
}

TEST(RandomTwo, LongLivedConnectionsFollowWeight) {
  const auto balancer = makeBalancer(Algorithm::kRandomTwo, {2, 1, 1, 1}, 3);
  for (int i = 0; i < 5000; ++i) balancer->onConnectionOpened(balancer->pick(PickRequest{}));
  // Perfect balance would be 2000/1000/1000/1000; two choices keep the gap to a handful.
  EXPECT_NEAR(balancer->active(0), 2000, 20);
  for (std::uint32_t i = 1; i < 4; ++i) EXPECT_NEAR(balancer->active(i), 1000, 20);
}

TEST(RandomTwo, NeverPicksDownOrExcludedBackends) {
  const auto balancer = makeBalancer(Algorithm::kRandomTwo, {1, 1, 1, 1, 1}, 9);
  balancer->setUp(3, false);
  const std::array<std::uint32_t, 2> tried = {0, 4};
  const std::vector<int> counts = countPicks(*balancer, 2000, PickRequest{.exclude = tried});
  EXPECT_EQ(counts[0], 0);
  EXPECT_EQ(counts[3], 0);
  EXPECT_EQ(counts[4], 0);
  EXPECT_EQ(counts[1] + counts[2], 2000);
  EXPECT_GT(std::min(counts[1], counts[2]), 800);
}

TEST(RandomTwo, SingleEligibleBackendOrNone) {
  const auto balancer = makeBalancer(Algorithm::kRandomTwo, {1, 1, 1}, 5);
  balancer->setUp(0, false);
  const std::array<std::uint32_t, 1> tried = {2};
  EXPECT_EQ(balancer->pick(PickRequest{.exclude = tried}), 1U);
  balancer->setUp(1, false);
  EXPECT_EQ(balancer->pick(PickRequest{.exclude = tried}), kNoBackend);
}

}  // namespace
}  // namespace l4lb::balance
