#include "balance/maglev.h"

#include <utility>

#include "balance/hash64.h"

namespace l4lb::balance {

MaglevBalancer::MaglevBalancer(std::span<const BackendSlot> backends,
                               std::shared_ptr<const MaglevTable> table)
    : Balancer(backends), table_(std::move(table)) {}

std::uint32_t MaglevBalancer::pick(const PickRequest& request) {
  return choose(request.flow_hash, request.exclude);
}

MaglevBalancer::Explained MaglevBalancer::explain(std::uint64_t flow_hash) const {
  Explained out;
  if (!table_->empty()) {
    out.slot = table_->slotOf(flow_hash);
    out.owner = table_->lookup(flow_hash);
  }
  out.backend = choose(flow_hash, {});
  return out;
}

std::uint32_t MaglevBalancer::choose(std::uint64_t hash,
                                     std::span<const std::uint32_t> exclude) const {
  std::uint32_t backend = table_->lookup(hash);
  if (eligible(backend, exclude)) return backend;

  std::uint64_t probe = hash;
  for (std::uint32_t k = 0; k < kMaxProbes; ++k) {
    probe += kGoldenGamma;
    backend = table_->lookup(mix64(probe));
    if (eligible(backend, exclude)) return backend;
  }

  // Few eligible slots left (or eligible backends too light to own any): count them in name
  // order so the answer does not depend on config order either.
  std::uint32_t count = 0;
  for (const std::uint32_t index : table_->byName()) count += eligible(index, exclude);
  if (count == 0) return kNoBackend;
  std::uint64_t chosen = hash % count;
  for (const std::uint32_t index : table_->byName()) {
    if (!eligible(index, exclude)) continue;
    if (chosen-- == 0) return index;
  }
  return kNoBackend;  // unreachable
}

MaglevPlan::MaglevPlan(std::vector<BackendSlot> backends, std::uint32_t table_size)
    : backends_(std::move(backends)),
      table_(std::make_shared<const MaglevTable>(backends_, table_size)) {}

std::unique_ptr<Balancer> MaglevPlan::instantiate(std::uint64_t /*seed*/) const {
  return std::make_unique<MaglevBalancer>(backends_, table_);
}

}  // namespace l4lb::balance
