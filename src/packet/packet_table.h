#pragma once

// The Maglev table of a packet-path VIP: the proxy path's construction (names, weights, backup
// flags, table size, as proxy::balancerSlots makes them) with every backend that may not take
// new flows at weight 0, so that it takes no slot. The XDP program does not probe past an
// unusable slot as the workers' MaglevBalancer does, so the table itself must leave them out;
// with all backends usable the two tables are the same table.

#include <cstdint>
#include <span>
#include <vector>

#include "balance/balancer.h"
#include "config/config.h"

namespace l4lb::packet {

// `usable[b]`: backend b may take new flows (its checks do not say down, the operator has not
// drained or disabled it). `weights`: the operator's (empty: the config's). Backups take slots
// only while no primary is usable, as in the proxy path.
[[nodiscard]] std::vector<balance::BackendSlot> packetSlots(const config::PoolConfig& pool,
                                                            std::span<const std::uint32_t> weights,
                                                            const std::vector<bool>& usable);

}  // namespace l4lb::packet
