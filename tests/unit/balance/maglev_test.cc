#include "balance/maglev.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <array>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "balance/hash64.h"
#include "balance/maglev_table.h"
#include "balance_test_util.h"

namespace l4lb::balance {
namespace {

using testing::hashed;
using testing::weightedBackends;

constexpr std::uint32_t kM = kDefaultMaglevTableSize;

std::vector<int> slotCounts(const MaglevTable& table, std::size_t backends) {
  std::vector<int> counts(backends, 0);
  for (const std::uint32_t entry : table.entries()) ++counts.at(entry);
  return counts;
}

// The backend name in every slot, so tables over differently ordered lists can be compared.
std::vector<std::string> slotNames(const MaglevTable& table,
                                   const std::vector<BackendSlot>& backends) {
  std::vector<std::string> names;
  for (const std::uint32_t entry : table.entries()) names.push_back(backends.at(entry).name);
  return names;
}

double changedFraction(const std::vector<std::string>& before,
                       const std::vector<std::string>& after) {
  std::size_t changed = 0;
  for (std::size_t i = 0; i < before.size(); ++i) changed += before[i] != after[i];
  return static_cast<double>(changed) / static_cast<double>(before.size());
}

TEST(MaglevTable, PrimeHelpers) {
  EXPECT_TRUE(isPrime(2));
  EXPECT_TRUE(isPrime(65537));
  EXPECT_FALSE(isPrime(1));
  EXPECT_FALSE(isPrime(65536));
  EXPECT_FALSE(isPrime(65539 * 3));
  EXPECT_EQ(nextPrime(65536), 65537U);
  EXPECT_EQ(nextPrime(100), 101U);
}

TEST(MaglevTable, EveryEntryIsFilled) {
  const MaglevTable table(weightedBackends({1, 1, 1, 1, 1, 1, 1}), kM);
  ASSERT_EQ(table.size(), kM);
  for (const std::uint32_t entry : table.entries()) ASSERT_LT(entry, 7U);
}

TEST(MaglevTable, EqualWeightsGetFloorOrCeilOfMOverN) {
  for (const std::size_t n : {1, 2, 3, 10, 97}) {
    const MaglevTable table(weightedBackends(std::vector<std::uint32_t>(n, 1)), kM);
    for (const int count : slotCounts(table, n)) {
      EXPECT_TRUE(count == static_cast<int>(kM / n) || count == static_cast<int>(kM / n + 1))
          << "n " << n << " count " << count;
    }
  }
}

TEST(MaglevTable, SlotsAreProportionalToWeight) {
  const std::vector<std::uint32_t> weights = {1, 2, 3, 4, 10};
  const MaglevTable table(weightedBackends(weights), kM);
  const std::vector<int> counts = slotCounts(table, weights.size());
  for (std::size_t i = 0; i < weights.size(); ++i) {
    EXPECT_NEAR(counts[i], kM * weights[i] / 20.0, 2.0) << "backend " << i;
  }
}

TEST(MaglevTable, ZeroWeightOwnsNoSlots) {
  const MaglevTable table(weightedBackends({1, 0, 1}), kM);
  EXPECT_EQ(slotCounts(table, 3)[1], 0);
  EXPECT_TRUE(MaglevTable(weightedBackends({0, 0}), kM).empty());
  EXPECT_EQ(MaglevTable(weightedBackends({0, 0}), kM).lookup(5), kNoBackend);
}

TEST(MaglevTable, NonPrimeSizeIsRoundedUpToAPrime) {
  EXPECT_EQ(MaglevTable(weightedBackends({1, 1}), 100).size(), 101U);
}

// Regression guard: the layout is the cross-instance contract. If this fails, h1/h2, their seeds
// or the population order changed, and instances of different versions would disagree. Checked
// against an independent Python rendering of the algorithm in maglev_table.h.
TEST(MaglevTable, KnownLayoutIsStable) {
  const MaglevTable table(weightedBackends({1, 1, 2}), 13);
  const std::vector<std::uint32_t> entries(table.entries().begin(), table.entries().end());
  EXPECT_EQ(entries, (std::vector<std::uint32_t>{2, 1, 2, 0, 1, 2, 1, 2, 2, 2, 2, 0, 0}));
}

TEST(MaglevTable, SameNamesInAnyOrderGiveTheSameTable) {
  std::vector<BackendSlot> backends = weightedBackends({1, 2, 1, 3, 1, 1, 2, 1, 1, 1});
  const std::vector<std::string> reference = slotNames(MaglevTable(backends, kM), backends);
  std::mt19937 rng(1);
  for (int round = 0; round < 5; ++round) {
    std::shuffle(backends.begin(), backends.end(), rng);
    EXPECT_EQ(slotNames(MaglevTable(backends, kM), backends), reference) << "round " << round;
  }
}

TEST(MaglevTable, RemovingOneOfTenMovesAboutATenth) {
  const std::vector<BackendSlot> ten = weightedBackends(std::vector<std::uint32_t>(10, 1));
  const std::vector<std::string> before = slotNames(MaglevTable(ten, kM), ten);
  for (std::size_t removed = 0; removed < ten.size(); ++removed) {
    std::vector<BackendSlot> nine = ten;
    nine.erase(nine.begin() + static_cast<std::ptrdiff_t>(removed));
    const std::vector<std::string> after = slotNames(MaglevTable(nine, kM), nine);
    EXPECT_LT(changedFraction(before, after), 0.1 + 0.02) << "removed " << removed;
    // Slots that belonged to survivors mostly stay put.
    std::size_t survivor_slots = 0;
    std::size_t survivor_moved = 0;
    for (std::size_t i = 0; i < before.size(); ++i) {
      if (before[i] == ten[removed].name) continue;
      ++survivor_slots;
      survivor_moved += before[i] != after[i];
    }
    EXPECT_LT(static_cast<double>(survivor_moved) / static_cast<double>(survivor_slots), 0.03)
        << "removed " << removed;
  }
}

TEST(MaglevTable, AddingAnEleventhMovesAboutAnEleventh) {
  const std::vector<BackendSlot> ten = weightedBackends(std::vector<std::uint32_t>(10, 1));
  const std::vector<BackendSlot> eleven = weightedBackends(std::vector<std::uint32_t>(11, 1));
  const double changed = changedFraction(slotNames(MaglevTable(ten, kM), ten),
                                         slotNames(MaglevTable(eleven, kM), eleven));
  EXPECT_LT(changed, 1.0 / 11 + 0.02);
}

class MaglevBalancerTest : public ::testing::Test {
 protected:
  MaglevBalancerTest()
      : plan_(makeBalancerPlan(Algorithm::kMaglev,
                               weightedBackends(std::vector<std::uint32_t>(10, 1)), kM)),
        balancer_(plan_->instantiate(0)) {}

  std::uint32_t pick(std::uint64_t hash, std::span<const std::uint32_t> exclude = {}) {
    return balancer_->pick(PickRequest{.flow_hash = hash, .exclude = exclude});
  }
  const MaglevTable& table() const { return dynamic_cast<const MaglevPlan&>(*plan_).table(); }

  std::shared_ptr<const BalancerPlan> plan_;
  std::unique_ptr<Balancer> balancer_;
};

TEST_F(MaglevBalancerTest, PicksTheSlotOwnerAndSharesOneTable) {
  for (std::uint64_t key = 0; key < 1000; ++key) {
    const std::uint64_t hash = mix64(key);
    EXPECT_EQ(pick(hash), table().entries()[hash % kM]);
  }
  const auto other = plan_->instantiate(99);
  EXPECT_EQ(&dynamic_cast<MaglevBalancer&>(*other).table(), &table());
}

TEST_F(MaglevBalancerTest, DownBackendsFlowsSpreadOverSurvivorsAndNoOthersMove) {
  constexpr std::uint32_t kDown = 4;
  balancer_->setUp(kDown, false);
  std::vector<int> displaced(10, 0);
  for (std::uint64_t slot = 0; slot < kM; ++slot) {
    const std::uint32_t owner = table().entries()[slot];
    const std::uint32_t chosen = pick(slot);
    if (owner != kDown) {
      ASSERT_EQ(chosen, owner) << "slot " << slot;
    } else {
      ASSERT_NE(chosen, kDown);
      ++displaced[chosen];
    }
  }
  // ~6554 displaced flows over 9 survivors: ~728 each.
  for (std::uint32_t i = 0; i < 10; ++i) {
    if (i == kDown) continue;
    EXPECT_NEAR(displaced[i], 728, 150) << "backend " << i;
  }
}

TEST_F(MaglevBalancerTest, RetryGoesToTheSameSecondChoiceOnEveryInstance) {
  const auto other = plan_->instantiate(12345);
  for (std::uint64_t key = 0; key < 1000; ++key) {
    const std::uint64_t hash = mix64(key);
    const std::array<std::uint32_t, 1> tried = {pick(hash)};
    const std::uint32_t second = pick(hash, tried);
    EXPECT_NE(second, tried[0]);
    EXPECT_EQ(second, other->pick(PickRequest{.flow_hash = hash, .exclude = tried}));
  }
}

TEST_F(MaglevBalancerTest, OneSurvivorTakesEverythingAndNoneMeansNoBackend) {
  for (std::uint32_t i = 0; i < 10; ++i) balancer_->setUp(i, i == 7);
  // 90% of slots are down, so some flows exhaust the probes and take the name-order fallback.
  for (std::uint64_t key = 0; key < 2000; ++key) ASSERT_EQ(pick(mix64(key)), 7U);
  const std::array<std::uint32_t, 1> tried = {7};
  EXPECT_EQ(pick(mix64(1), tried), kNoBackend);
}

TEST(MaglevBalancer, SameNamesInAnyOrderPickTheSameBackendByName) {
  std::vector<BackendSlot> backends = weightedBackends({1, 1, 2, 1, 1});
  const auto a = makeBalancerPlan(Algorithm::kMaglev, backends, kM)->instantiate(0);
  std::vector<BackendSlot> reversed(backends.rbegin(), backends.rend());
  const auto b = makeBalancerPlan(Algorithm::kMaglev, reversed, kM)->instantiate(0);
  a->setUp(1, false);  // backend-1 down on both
  b->setUp(3, false);
  for (std::uint64_t key = 0; key < 5000; ++key) {
    const PickRequest request = hashed(mix64(key));
    EXPECT_EQ(backends[a->pick(request)].name, reversed[b->pick(request)].name);
  }
}

}  // namespace
}  // namespace l4lb::balance
