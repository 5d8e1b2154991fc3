#include "balance/round_robin.h"

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

// The longest run of consecutive picks of `backend` in `picks` picks.
int longestRun(Balancer& balancer, std::uint32_t backend, int picks) {
  int run = 0;
  int longest = 0;
  for (int i = 0; i < picks; ++i) {
    run = balancer.pick(PickRequest{}) == backend ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return longest;
}

TEST(RoundRobin, EqualWeightsTakeTurnsInOrder) {
  const auto balancer = makeBalancer(Algorithm::kRoundRobin, {1, 1, 1});
  EXPECT_EQ(pickSequence(*balancer, 6), (std::vector<std::uint32_t>{0, 1, 2, 0, 1, 2}));
}

TEST(RoundRobin, SmoothSequenceForFiveOneOne) {
  // nginx's documented example: 5:1:1 interleaves as a a b a c a a.
  const auto balancer = makeBalancer(Algorithm::kRoundRobin, {5, 1, 1});
  EXPECT_EQ(pickSequence(*balancer, 14),
            (std::vector<std::uint32_t>{0, 0, 1, 0, 2, 0, 0, 0, 0, 1, 0, 2, 0, 0}));
}

TEST(RoundRobin, ExactDistributionOverWholeCyclesWhateverTheSeed) {
  constexpr int kCycles = 100;
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    const auto balancer = makeBalancer(Algorithm::kRoundRobin, {5, 1, 1}, seed);
    EXPECT_EQ(countPicks(*balancer, 7 * kCycles), (std::vector<int>{500, 100, 100}))
        << "seed " << seed;
  }
}

TEST(RoundRobin, HeavyBackendNeverGetsFiveInARow) {
  for (std::uint64_t seed = 0; seed < 20; ++seed) {
    const auto balancer = makeBalancer(Algorithm::kRoundRobin, {5, 1, 1}, seed);
    EXPECT_LT(longestRun(*balancer, 0, 7 * 100), 5) << "seed " << seed;
  }
}

TEST(RoundRobin, SeedsStartWorkersAtDifferentPoints) {
  const auto a = makeBalancer(Algorithm::kRoundRobin, {1, 1, 1, 1}, 0);
  const auto b = makeBalancer(Algorithm::kRoundRobin, {1, 1, 1, 1}, 1);
  EXPECT_NE(a->pick(PickRequest{}), b->pick(PickRequest{}));
}

TEST(RoundRobin, ExcludedBackendIsSkippedAndOthersKeepTheirRatio) {
  const auto balancer = makeBalancer(Algorithm::kRoundRobin, {5, 1, 1});
  const std::array<std::uint32_t, 1> tried = {0};
  EXPECT_EQ(countPicks(*balancer, 100, PickRequest{.exclude = tried}),
            (std::vector<int>{0, 50, 50}));
  // Exclusion is per pick: the next ordinary picks still follow 5:1:1.
  EXPECT_EQ(countPicks(*balancer, 7 * 10), (std::vector<int>{50, 10, 10}));
}

TEST(RoundRobin, DownBackendIsSkippedAndRejoinsTheRotation) {
  const auto balancer = makeBalancer(Algorithm::kRoundRobin, {5, 1, 1});
  (void)balancer->pick(PickRequest{});  // mid-cycle, to show the others' sequence is not disturbed
  balancer->setUp(1, false);
  EXPECT_EQ(countPicks(*balancer, 6 * 50), (std::vector<int>{250, 0, 50}));
  balancer->setUp(1, true);
  const std::vector<int> counts = countPicks(*balancer, 7 * 50);
  // It rejoins with the `current` it had, so whole cycles may be off by one pick at the edges.
  EXPECT_NEAR(counts[0], 250, 1);
  EXPECT_NEAR(counts[1], 50, 1);
  EXPECT_NEAR(counts[2], 50, 1);
}

TEST(RoundRobin, NoBackendWhenAllAreExcludedOrDown) {
  const auto balancer = makeBalancer(Algorithm::kRoundRobin, {2, 1});
  const std::array<std::uint32_t, 2> tried = {1, 0};
  EXPECT_EQ(balancer->pick(PickRequest{.exclude = tried}), kNoBackend);
  balancer->setUp(0, false);
  const std::array<std::uint32_t, 1> tried_one = {1};
  EXPECT_EQ(balancer->pick(PickRequest{.exclude = tried_one}), kNoBackend);
  balancer->setUp(1, false);
  EXPECT_EQ(balancer->pick(PickRequest{}), kNoBackend);
  // Failed picks change nothing: once back up the pool still balances 2:1.
  balancer->setUp(0, true);
  balancer->setUp(1, true);
  EXPECT_EQ(countPicks(*balancer, 3 * 20), (std::vector<int>{40, 20}));
}

}  // namespace
}  // namespace l4lb::balance
