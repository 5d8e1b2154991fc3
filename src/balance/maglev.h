#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "balance/balancer.h"
#include "balance/maglev_table.h"

namespace l4lb::balance {

// Consistent hashing through a MaglevTable: a flow goes to the owner of slot flow_hash mod M.
//
// When that owner is down or excluded the flow probes further slots, in a sequence fixed by its
// hash (splitmix64 seeded with it), and takes the first eligible owner; after kMaxProbes misses
// it takes eligible backend number (hash mod count) in name order. Why this rather than a second
// table built without the down backends:
//  - flows of healthy backends never move, since their first slot still answers; a rebuilt table
//    would also reshuffle a share of them (Maglev is only nearly minimally disruptive);
//  - the displaced flows spread over the survivors in proportion to their slot counts, i.e. their
//    weights, because each probe lands on an independent slot (linear probing would hand them all
//    to whichever backends happen to sit next to the down backend's slots);
//  - it is deterministic in (hash, eligible set, names): instances that agree on health agree on
//    the fallback, and a retry (`exclude`) goes to the same second choice everywhere;
//  - health changes cost nothing: the table is immutable and shared, and rebuilding 65537
//    slots in each worker on every flap would stall the data path.
// The cost is a few extra lookups per pick while a backend is down (1 / (1 - down share) on
// average).
class MaglevBalancer final : public Balancer {
 public:
  static constexpr std::uint32_t kMaxProbes = 16;

  MaglevBalancer(std::span<const BackendSlot> backends, std::shared_ptr<const MaglevTable> table);

  [[nodiscard]] std::uint32_t pick(const PickRequest& request) override;

  // What pick() answers for a new flow of `flow_hash` (nothing excluded) and why: the slot it
  // lands in, that slot's owner, and the backend chosen (the owner, or where the probes fell
  // back to while the owner is not eligible). The admin API's "which backend for this client",
  // through the very code the workers pick with.
  struct Explained {
    std::uint32_t slot = kNoBackend;   // kNoBackend: the table is empty
    std::uint32_t owner = kNoBackend;  // config index
    std::uint32_t backend = kNoBackend;
  };
  [[nodiscard]] Explained explain(std::uint64_t flow_hash) const;

  [[nodiscard]] const MaglevTable& table() const { return *table_; }
  // A table built for other weights of the same backends (the admin API's weight changes: built
  // off the data path, shared read-only by the workers).
  void setTable(std::shared_ptr<const MaglevTable> table) { table_ = std::move(table); }

 private:
  [[nodiscard]] std::uint32_t choose(std::uint64_t hash,
                                     std::span<const std::uint32_t> exclude) const;

  std::shared_ptr<const MaglevTable> table_;
};

// Builds the table once; every worker's MaglevBalancer shares it read-only.
class MaglevPlan final : public BalancerPlan {
 public:
  MaglevPlan(std::vector<BackendSlot> backends, std::uint32_t table_size);

  [[nodiscard]] std::unique_ptr<Balancer> instantiate(std::uint64_t seed) const override;

  [[nodiscard]] const MaglevTable& table() const { return *table_; }
  [[nodiscard]] std::shared_ptr<const MaglevTable> sharedTable() const { return table_; }

 private:
  std::vector<BackendSlot> backends_;
  std::shared_ptr<const MaglevTable> table_;
};

}  // namespace l4lb::balance
