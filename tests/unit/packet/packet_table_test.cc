#include "packet/packet_table.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "balance/maglev_table.h"
#include "proxy/balancer_plans.h"

namespace l4lb::packet {
namespace {

config::PoolConfig poolOf(std::initializer_list<std::pair<const char*, bool>> backends) {
  config::PoolConfig pool;
  pool.name = "web";
  pool.balance = balance::Algorithm::kMaglev;
  pool.maglev_table_size = 251;
  for (const auto& [name, backup] : backends) {
    config::BackendConfig backend;
    backend.name = name;
    backend.address.url = std::string("tcp://") + name + ":80";
    backend.backup = backup;
    pool.backends.push_back(backend);
  }
  return pool;
}

std::size_t slotsOf(const balance::MaglevTable& table, std::uint32_t backend) {
  return static_cast<std::size_t>(
      std::count(table.entries().begin(), table.entries().end(), backend));
}

TEST(PacketTableTest, WithEveryBackendUsableItIsTheProxyPathsTable) {
  const auto pool = poolOf({{"a", false}, {"b", false}, {"c", false}});
  const balance::MaglevTable proxy(proxy::balancerSlots(pool), pool.maglev_table_size);
  const balance::MaglevTable packet(packetSlots(pool, {}, {true, true, true}),
                                    pool.maglev_table_size);
  EXPECT_EQ(packet.digest(), proxy.digest());
  EXPECT_TRUE(std::equal(packet.entries().begin(), packet.entries().end(), proxy.entries().begin(),
                         proxy.entries().end()));
}

TEST(PacketTableTest, AnUnusableBackendHoldsNoSlotAndTheOthersKeepMost) {
  const auto pool = poolOf({{"a", false}, {"b", false}, {"c", false}});
  const balance::MaglevTable all(packetSlots(pool, {}, {true, true, true}), 251);
  const balance::MaglevTable without_b(packetSlots(pool, {}, {true, false, true}), 251);
  EXPECT_EQ(slotsOf(without_b, 1), 0U);
  EXPECT_EQ(slotsOf(without_b, 0) + slotsOf(without_b, 2), 251U);
  // Maglev's minimal disruption: most of a's and c's slots stay theirs.
  std::size_t kept = 0;
  for (std::uint32_t s = 0; s < 251; ++s) {
    if (all.entries()[s] != 1 && all.entries()[s] == without_b.entries()[s]) ++kept;
  }
  EXPECT_GT(kept, (slotsOf(all, 0) + slotsOf(all, 2)) * 9 / 10);
}

TEST(PacketTableTest, WeightsAreTheOperators) {
  const auto pool = poolOf({{"a", false}, {"b", false}});
  const std::vector<std::uint32_t> weights = {1, 3};
  const balance::MaglevTable table(packetSlots(pool, weights, {true, true}), 251);
  EXPECT_GT(slotsOf(table, 1), 2 * slotsOf(table, 0));
}

TEST(PacketTableTest, BackupsTakeSlotsOnlyWhileNoPrimaryIsUsable) {
  const auto pool = poolOf({{"a", false}, {"spare", true}});
  const balance::MaglevTable primary(packetSlots(pool, {}, {true, true}), 251);
  EXPECT_EQ(slotsOf(primary, 1), 0U);
  const balance::MaglevTable fallback(packetSlots(pool, {}, {false, true}), 251);
  EXPECT_EQ(slotsOf(fallback, 1), 251U);
  const balance::MaglevTable none(packetSlots(pool, {}, {false, false}), 251);
  EXPECT_TRUE(none.empty());
}

}  // namespace
}  // namespace l4lb::packet
