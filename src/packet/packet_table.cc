#include "packet/packet_table.h"

namespace l4lb::packet {

std::vector<balance::BackendSlot> packetSlots(const config::PoolConfig& pool,
                                              std::span<const std::uint32_t> weights,
                                              const std::vector<bool>& usable) {
  bool primary_usable = false;
  for (std::size_t b = 0; b < pool.backends.size(); ++b) {
    primary_usable |= b < usable.size() && usable[b] && !pool.backends[b].backup;
  }
  std::vector<balance::BackendSlot> slots;
  slots.reserve(pool.backends.size());
  for (std::size_t b = 0; b < pool.backends.size(); ++b) {
    const auto& backend = pool.backends[b];
    const bool takes = b < usable.size() && usable[b] && (backend.backup != primary_usable);
    const std::uint32_t weight = b < weights.size() ? weights[b] : backend.weight;
    slots.push_back({backend.name, takes ? weight : 0U, backend.backup, backend.address.url});
  }
  return slots;
}

}  // namespace l4lb::packet
