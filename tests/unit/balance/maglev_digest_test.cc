// The Maglev table's digest (what operators compare across instances) and explain() (the admin
// API's "which backend for this client"): both must follow the table and the pick exactly.

#include <gtest/gtest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "balance/hash64.h"
#include "balance/maglev.h"
#include "balance/maglev_table.h"

namespace l4lb::balance {
namespace {

constexpr std::uint32_t kDigestTableSize = 1009;

std::vector<BackendSlot> digestBackends() {
  return {BackendSlot{"cache-a", 1, false, "tcp://10.0.0.1:6379"},
          BackendSlot{"cache-b", 2, false, "tcp://10.0.0.2:6379"},
          BackendSlot{"cache-c", 1, false, "tcp://10.0.0.3:6379"},
          BackendSlot{"cache-d", 1, true, "tcp://10.0.0.4:6379"}};
}

std::uint64_t digestOf(const std::vector<BackendSlot>& backends,
                       std::uint32_t size = kDigestTableSize) {
  return MaglevTable(backends, size).digest();
}

TEST(MaglevDigest, SameBackendsInAnotherOrderGiveTheSameDigest) {
  std::vector<BackendSlot> backends = digestBackends();
  const std::uint64_t digest = digestOf(backends);
  std::reverse(backends.begin(), backends.end());
  EXPECT_EQ(digestOf(backends), digest);
  std::rotate(backends.begin(), backends.begin() + 1, backends.end());
  EXPECT_EQ(digestOf(backends), digest);
}

TEST(MaglevDigest, AWeightChangeChangesIt) {
  std::vector<BackendSlot> backends = digestBackends();
  const std::uint64_t digest = digestOf(backends);
  backends[0].weight = 3;
  EXPECT_NE(digestOf(backends), digest);
  backends[0].weight = 1;
  EXPECT_EQ(digestOf(backends), digest);  // and back: nothing else went into it
}

TEST(MaglevDigest, EveryPartOfABackendsIdentityCounts) {
  const std::uint64_t digest = digestOf(digestBackends());
  auto changed = digestBackends();
  changed[2].address = "tcp://10.0.0.9:6379";  // same name, another address
  EXPECT_NE(digestOf(changed), digest);
  changed = digestBackends();
  changed[2].name = "cache-z";
  EXPECT_NE(digestOf(changed), digest);
  changed = digestBackends();
  changed[3].backup = false;
  EXPECT_NE(digestOf(changed), digest);
  changed = digestBackends();
  changed.pop_back();
  EXPECT_NE(digestOf(changed), digest);
  EXPECT_NE(digestOf(digestBackends(), 1013), digest);  // another table size
}

TEST(MaglevDigest, ABackendOfWeightZeroChangesNothing) {
  // It owns no slot and is never picked, not even as a fallback: no client notices it.
  auto with_zero = digestBackends();
  with_zero.push_back(BackendSlot{"cache-e", 0, false, "tcp://10.0.0.5:6379"});
  EXPECT_EQ(digestOf(with_zero), digestOf(digestBackends()));
}

// The digest is a fixed function (hash64.h, fixed seeds): the same in every process and build,
// or instances could never be compared. A change of this value is a change of the digest's
// definition: every fleet mid-upgrade would show instances that disagree.
TEST(MaglevDigest, IsTheSameInEveryProcess) {
  EXPECT_EQ(digestOf(digestBackends()), 0x6b43f3dfa16d872dULL)
      << std::hex << digestOf(digestBackends());
}

TEST(MaglevDigest, AnEmptyTableHasOneToo) {
  const MaglevTable empty(std::vector<BackendSlot>{{"a", 0, false, "tcp://10.0.0.1:1"}}, 101);
  EXPECT_TRUE(empty.empty());
  EXPECT_NE(empty.digest(), digestOf(digestBackends()));
}

TEST(MaglevExplain, NamesTheSlotItsOwnerAndWhatPickAnswers) {
  const std::vector<BackendSlot> backends = digestBackends();
  auto table = std::make_shared<const MaglevTable>(backends, kDigestTableSize);
  MaglevBalancer balancer(backends, table);
  for (std::uint64_t client = 0; client < 200; ++client) {
    const std::uint64_t hash = mix64(client);
    const auto explained = balancer.explain(hash);
    EXPECT_EQ(explained.slot, hash % kDigestTableSize);
    EXPECT_EQ(explained.owner, table->entries()[explained.slot]);
    PickRequest request;
    request.flow_hash = hash;
    EXPECT_EQ(explained.backend, balancer.pick(request));
    // The backup owns slots, but while primaries are up a pick never lands on it.
    EXPECT_EQ(explained.backend == explained.owner, !backends[explained.owner].backup);
  }
}

TEST(MaglevExplain, FallsBackWhereThePickDoesWhenTheOwnerIsDown) {
  const std::vector<BackendSlot> backends = digestBackends();
  auto table = std::make_shared<const MaglevTable>(backends, kDigestTableSize);
  MaglevBalancer balancer(backends, table);
  balancer.setUp(1, false);
  int fell_back = 0;
  for (std::uint64_t client = 0; client < 200; ++client) {
    const std::uint64_t hash = mix64(client);
    const auto explained = balancer.explain(hash);
    PickRequest request;
    request.flow_hash = hash;
    EXPECT_EQ(explained.backend, balancer.pick(request));
    EXPECT_NE(explained.backend, 1U);
    if (explained.owner == 1U) ++fell_back;
  }
  EXPECT_GT(fell_back, 0);  // backend 1 (weight 2) owns about 2/5 of the slots
  for (std::uint32_t b = 0; b < backends.size(); ++b) balancer.setUp(b, false);
  EXPECT_EQ(balancer.explain(mix64(7)).backend, kNoBackend);
}

}  // namespace
}  // namespace l4lb::balance
