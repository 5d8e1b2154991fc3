// What the admin API shows of Maglev pools, so operators of several instances behind ECMP can
// check that they agree: each pool's table digest, and which backend a client gets now.

#include <fmt/format.h>

#include <algorithm>

#include "admin/controller.h"
#include "balance/flow_hash.h"
#include "balance/maglev.h"
#include "net/address_literal.h"
#include "packet/packet_table.h"
#include "proxy/balancer_plans.h"

namespace l4lb::admin {

using nlohmann::json;

std::string maglevDigestText(const balance::MaglevTable& table) {
  return fmt::format("{:016x}", table.digest());
}

MaglevTables Controller::configTables(const config::Config& config, MaglevTables tables) {
  tables.resize(config.pools.size());
  for (std::size_t p = 0; p < config.pools.size(); ++p) {
    const auto& pool = config.pools[p];
    if (pool.balance != balance::Algorithm::kMaglev) {
      tables[p] = nullptr;
    } else if (!tables[p]) {
      // Only where no plan's table was handed in (tests): the plan's own builder, so the same.
      tables[p] = std::make_shared<const balance::MaglevTable>(proxy::balancerSlots(pool),
                                                               pool.maglev_table_size);
    }
  }
  return tables;
}

std::shared_ptr<const balance::MaglevTable> Controller::maglevTableOf(std::uint32_t pool) const {
  if (config_->pools[pool].balance != balance::Algorithm::kMaglev) return nullptr;
  if (pool < current_.maglev_tables.size() && current_.maglev_tables[pool]) {
    return current_.maglev_tables[pool];
  }
  return pool < config_tables_.size() ? config_tables_[pool] : nullptr;
}

json Controller::maglevJson(std::uint32_t pool) const {
  const auto table = maglevTableOf(pool);
  if (!table) return nullptr;
  return json{{"table_size", table->size()}, {"digest", maglevDigestText(*table)}};
}

ApiReply Controller::lookup(std::string_view pool_name, std::string_view client_text) const {
  std::lock_guard lock(mutex_);
  const auto index = findPool(pool_name);
  if (!index) return errorReply(404, fmt::format("no pool \"{}\"", pool_name));
  const std::uint32_t p = *index;
  const auto& pool = config_->pools[p];
  const auto table = maglevTableOf(p);
  if (!table) {
    return errorReply(409, fmt::format("pool \"{}\" balances with {}: a lookup needs balance = "
                                       "\"maglev\", where the client's address alone decides "
                                       "its backend",
                                       pool.name, balance::algorithmName(pool.balance)));
  }
  if (client_text.empty()) {
    return errorReply(400,
                      "say which client: ?client=IP, or ?client=IP:PORT (a pool with "
                      "hash_key = \"client-ip-port\" needs the port)");
  }
  auto client = net::parseAddressLiteral(client_text);
  if (!client) return errorReply(400, client.error().message());
  if (pool.hash_key == balance::HashKey::kClientIpPort && !client->has_port) {
    return errorReply(400, fmt::format("pool \"{}\" hashes client-ip-port: give the client's "
                                       "port too (192.0.2.7:5000, [2001:db8::7]:5000)",
                                       pool.name));
  }
  if (std::any_of(config_->listeners.begin(), config_->listeners.end(),
                  [&](const auto& l) { return l.packetPath() && l.pool_index == p; })) {
    return packetLookup(p, client->sockaddrPtr(), client_text);
  }
  // The workers' own pick, on a balancer that sees what every instance sees: the checks'
  // verdicts and the operator's states and weights. Each worker's passive ejections and its
  // backends at max_connections are its own, and not known here.
  const std::vector<balance::BackendSlot> slots = proxy::balancerSlots(pool, current_.weights[p]);
  balance::MaglevBalancer balancer(slots, table);
  const bool judged = pool.health.has_value() || pool.agent.has_value();
  for (std::uint32_t b = 0; b < pool.backends.size(); ++b) {
    balancer.setUp(b, shownStateName(current_.states[p][b], healthOf(p, b), judged) == "up");
  }
  const auto picked = balancer.explain(balance::hashClient(client->sockaddrPtr(), pool.hash_key));
  const auto backendOf = [&](std::uint32_t b) -> json {
    if (b >= pool.backends.size()) return nullptr;
    return json{{"name", pool.backends[b].name},
                {"address", pool.backends[b].address.url},
                {"state", shownStateName(current_.states[p][b], healthOf(p, b), judged)}};
  };
  return ApiReply{
      200, json{{"pool", pool.name},
                {"client", std::string(client_text)},
                {"hash_key", balance::hashKeyName(pool.hash_key)},
                // null: no backend may take it (the connection would end "no-backend").
                {"backend", backendOf(picked.backend)},
                {"slot", picked.slot == balance::kNoBackend ? json(nullptr) : json(picked.slot)},
                {"table_owner", backendOf(picked.owner)},
                // The owner is down, draining, disabled or a backup while a primary is up: the
                // probes went on to another slot's owner.
                {"fallback", picked.backend != picked.owner},
                {"table_size", table->size()},
                {"digest", maglevDigestText(*table)}}};
}

// A pool that serves a packet-path listener: the XDP program has no probing, so its table
// leaves out the backends that may not take new flows (packet/packet_table.h). Built here from
// the same inputs as packet::PacketPath builds it (the checks' verdicts, the operator's states
// and weights), so the answer is the program's.
ApiReply Controller::packetLookup(std::uint32_t p, const sockaddr* client,
                                  std::string_view client_text) const {
  const auto& pool = config_->pools[p];
  std::vector<bool> usable(pool.backends.size());
  for (std::uint32_t b = 0; b < pool.backends.size(); ++b) {
    usable[b] = healthOf(p, b) != control::BackendState::kDown &&
                control::adminAllowsNew(current_.states[p][b]);
  }
  const balance::MaglevTable table(packet::packetSlots(pool, current_.weights[p], usable),
                                   pool.maglev_table_size);
  const bool judged = pool.health.has_value() || pool.agent.has_value();
  const std::uint64_t hash = balance::hashClient(client, pool.hash_key);
  const std::uint32_t picked = table.lookup(hash);
  json backend = nullptr;
  if (picked < pool.backends.size()) {
    backend =
        json{{"name", pool.backends[picked].name},
             {"address", pool.backends[picked].address.url},
             {"state", shownStateName(current_.states[p][picked], healthOf(p, picked), judged)}};
  }
  return ApiReply{200,
                  json{{"pool", pool.name},
                       {"client", std::string(client_text)},
                       {"hash_key", balance::hashKeyName(pool.hash_key)},
                       {"backend", backend},
                       {"slot", table.empty() ? json(nullptr) : json(table.slotOf(hash))},
                       {"table_owner", backend},
                       {"fallback", false},
                       {"packet_path", true},
                       {"table_size", table.empty() ? json(nullptr) : json(table.size())},
                       {"digest", table.empty() ? json(nullptr) : json(maglevDigestText(table))}}};
}

}  // namespace l4lb::admin
