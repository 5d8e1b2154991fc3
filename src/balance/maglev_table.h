#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "balance/balancer.h"

namespace l4lb::balance {

[[nodiscard]] bool isPrime(std::uint32_t n);
// The smallest prime >= n (n <= 4294967291, the largest 32-bit prime).
[[nodiscard]] std::uint32_t nextPrime(std::uint32_t n);

// The Maglev lookup table (Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load
// Balancer", NSDI'16, section 3.4): M slots, each naming a backend; a flow goes to
// entry[flow_hash mod M].
//
// Each backend has a preference list, a permutation of the slots: offset = h1(name) mod M,
// skip = h2(name) mod (M - 1) + 1, permutation[j] = (offset + j * skip) mod M, which visits every
// slot because M is prime. Backends take turns claiming their next preferred free slot until the
// table is full, so equal backends end with floor(M/N) or ceil(M/N) slots each, and removing one
// backend mostly reassigns only its own slots.
//
// Weights: every round each backend earns `weight` credit and takes a turn for each `max_weight`
// it holds, so the heaviest backend takes one turn a round and a backend of half its weight one
// every other round. Slot counts come out proportional to weight; since nobody takes more than
// one turn a round, the last, partial round (where name order decides) is off by at most one slot
// per backend, where IPVS-MH's weight/gcd consecutive turns can be off by a whole weight; and
// equal weights reduce exactly to the paper's algorithm. Weight 0 takes no slots. The turns are
// scheduled through a heap, so building costs O(M log N) however lopsided the weights.
// Built once per config, off the data path: this allocates.
//
// Determinism: h1 and h2 are fixed hashes of the name (hash64.h), and turns are taken in name
// order, so the same set of names gives the same table whatever order the config lists them in
// and on every l4lb instance. Entries store config indices (mapped back from name order).
class MaglevTable {
 public:
  // `size` should be prime; one that is not is rounded up to the next prime, since a composite
  // size leaves some permutations unable to reach every slot. With no backend of positive weight
  // the table is empty.
  MaglevTable(std::span<const BackendSlot> backends, std::uint32_t size);

  [[nodiscard]] bool empty() const { return entries_.empty(); }
  [[nodiscard]] std::uint32_t size() const { return static_cast<std::uint32_t>(entries_.size()); }

  // The slot a flow of `hash` lands in (size() must not be 0), and the backend owning it, or
  // kNoBackend if the table is empty.
  [[nodiscard]] std::uint32_t slotOf(std::uint64_t hash) const {
    return static_cast<std::uint32_t>(hash % entries_.size());
  }
  [[nodiscard]] std::uint32_t lookup(std::uint64_t hash) const {
    return entries_.empty() ? kNoBackend : entries_[slotOf(hash)];
  }
  [[nodiscard]] std::span<const std::uint32_t> entries() const { return entries_; }

  // Config indices of the backends sorted by name (ties by config index).
  [[nodiscard]] std::span<const std::uint32_t> byName() const { return by_name_; }

  // A fingerprint of the table, the same on every instance, build and process whose table is
  // the same: the size, then each slot's owner in slot order, an owner being its name, address
  // and backup flag (never its config index, so the order the config lists backends in does not
  // matter, as it does not for the table; the backup flag because it changes picks). Computed
  // once, as the table is built. Operators of several instances behind ECMP compare it (the
  // admin API, l4lb_pool_maglev_info).
  [[nodiscard]] std::uint64_t digest() const { return digest_; }

 private:
  void populate(std::span<const BackendSlot> backends, std::uint32_t size);
  [[nodiscard]] std::uint64_t computeDigest(std::span<const BackendSlot> backends) const;

  // 32-bit entries: 256 KiB for the default 65537 slots, built once per config and shared by
  // every worker, and no cap on pool size below kNoBackend.
  std::vector<std::uint32_t> entries_;
  std::vector<std::uint32_t> by_name_;
  std::uint64_t digest_ = 0;
};

}  // namespace l4lb::balance
