#include "config/read_toml.h"

#include <algorithm>
#include <array>
#include <climits>
#include <string_view>
#include <utility>

#include "balance/balancer.h"
#include "balance/flow_hash.h"
#include "config/limits.h"
#include "config/read_admin.h"
#include "config/read_agent.h"
#include "config/read_announce.h"
#include "config/read_cidrs.h"
#include "config/read_discover.h"
#include "config/read_edge.h"
#include "config/read_forward.h"
#include "config/read_global.h"
#include "config/read_health.h"
#include "config/read_retry_on.h"
#include "config/read_run_as.h"
#include "config/suggest.h"
#include "config/table_reader.h"

namespace l4lb::config {

namespace {

using namespace std::string_view_literals;

// `include` is read (and its files merged) before the rest: include_files.h.
constexpr std::array kTopKeys = {"global"sv, "listener"sv, "pool"sv, "admin"sv, "include"sv};
constexpr std::array kListenerKeys = {"name"sv,
                                      "bind"sv,
                                      "pool"sv,
                                      "idle_timeout"sv,
                                      "backlog"sv,
                                      "max_flows"sv,
                                      "responses"sv,
                                      "flow_idle_timeout"sv,
                                      "mq_max_messages"sv,
                                      "mq_message_size"sv,
                                      "max_connections"sv,
                                      "per_source_max_connections"sv,
                                      "per_source_rate"sv,
                                      "per_source_max_flows"sv,
                                      "allow"sv,
                                      "deny"sv,
                                      "proxy_protocol"sv,
                                      "proxy_trusted"sv,
                                      "proxy_timeout"sv,
                                      "routes"sv,
                                      "inspect_timeout"sv,
                                      "tls_required"sv,
                                      "mode"sv,
                                      "user"sv,
                                      "group"sv,
                                      "announce"sv,
                                      "announce_min_backends"sv,
                                      "forward"sv,
                                      "interface"sv};
constexpr std::array kPoolKeys = {
    "balance"sv,       "hash_key"sv,  "maglev_table_size"sv, "connect_timeout"sv, "retries"sv,
    "queue_timeout"sv, "queue_max"sv, "backends"sv,          "health"sv,          "slow_start"sv,
    "eject_after"sv,   "eject_for"sv, "send_proxy"sv,        "retry_on"sv,        "agent"sv,
    "source"sv,        "discover"sv};
constexpr std::array kBackendKeys = {
    "address"sv,         "name"sv, "weight"sv, "mq_max_messages"sv, "mq_message_size"sv, "backup"sv,
    "max_connections"sv, "role"sv, "agent"sv};

constexpr std::int64_t kMaxEjectAfter = 1000;

constexpr std::string_view kAddressForms =
    "\"tcp://HOST:PORT\", \"unix:///PATH\", \"udp://HOST:PORT\", \"unixgram:///PATH\" or "
    "\"mq:///NAME\"";

std::optional<net::Endpoint> readEndpoint(TableReader& reader, std::string_view key,
                                          const EndpointParser& parse) {
  auto url = reader.name(key);
  if (!url) return std::nullopt;
  auto parsed = parse(*url);
  if (!parsed) {
    reader.errors().add(reader.originOf(key), parsed.error().message());
    return std::nullopt;
  }
  return std::move(parsed).value();
}

// Remembers where a key that applies to some address kinds only was written.
void noteScoped(TableReader& reader, std::string_view key, KeyScope scope,
                std::vector<ScopedKey>& keys) {
  if (reader.has(key)) keys.push_back(ScopedKey{reader.originOf(key), scope});
}

// mq_max_messages and mq_message_size, on an mq:// listener or backend.
void readQueueLimits(TableReader& reader, net::MessageQueueLimits& limits,
                     std::vector<ScopedKey>& keys) {
  noteScoped(reader, "mq_max_messages", KeyScope::kQueue, keys);
  noteScoped(reader, "mq_message_size", KeyScope::kQueue, keys);
  if (auto max = reader.integer("mq_max_messages", 1, kMaxQueueMessages)) {
    limits.max_messages = static_cast<std::uint32_t>(*max);
  }
  if (auto size = reader.integer("mq_message_size", 1, kMaxQueueMessageSize)) {
    limits.message_size = static_cast<std::uint32_t>(*size);
  }
}

// name, bind and pool: what a listener is called, where it listens, what it serves.
void readListenerTarget(TableReader& reader, std::size_t index, const EndpointParser& parse,
                        ListenerDraft& draft) {
  draft.name = reader.has("name") ? reader.originOf("name") : reader.origin();
  draft.config.name = fmt::format("listener{}", index);
  if (auto name = reader.name("name")) draft.config.name = std::move(*name);

  draft.bind = reader.originOf("bind");
  reader.requireKey("bind", fmt::format("every listener needs bind = {}", kAddressForms));
  if (auto bind = readEndpoint(reader, "bind", parse)) {
    draft.config.bind = std::move(*bind);
    draft.bind_ok = true;
  }

  draft.pool = reader.originOf("pool");
  reader.requireKey("pool", "every listener needs pool = \"NAME\", naming a [pool.NAME] table");
  if (auto pool = reader.name("pool")) {
    draft.config.pool = std::move(*pool);
    draft.pool_set = true;
  }
}

// The stream keys (idle_timeout, backlog, max_connections), who may connect (allow, deny), and
// the per-source limits on tcp://.
void readConnectionLimits(TableReader& reader, ListenerDraft& draft) {
  auto& scoped = draft.scoped_keys;
  noteScoped(reader, "idle_timeout", KeyScope::kStream, scoped);
  noteScoped(reader, "backlog", KeyScope::kStream, scoped);
  if (auto idle = reader.duration("idle_timeout", base::Duration(1), kMaxDuration)) {
    draft.config.idle_timeout = *idle;
  }
  if (auto backlog = reader.integer("backlog", 1, INT_MAX)) {
    draft.config.backlog = static_cast<int>(*backlog);
  }
  noteScoped(reader, "max_connections", KeyScope::kStream, scoped);
  noteScoped(reader, "allow", KeyScope::kIp, scoped);
  noteScoped(reader, "deny", KeyScope::kIp, scoped);
  if (auto allow = readCidrList(reader, "allow")) draft.config.allow = std::move(*allow);
  if (auto deny = readCidrList(reader, "deny")) draft.config.deny = std::move(*deny);
  noteScoped(reader, "per_source_max_connections", KeyScope::kTcp, scoped);
  noteScoped(reader, "per_source_rate", KeyScope::kTcp, scoped);
  if (auto max = reader.integer("max_connections", 0, kMaxConnections)) {
    draft.config.max_connections = static_cast<std::uint32_t>(*max);
  }
  if (auto max = reader.integer("per_source_max_connections", 0, kMaxConnections)) {
    draft.config.per_source_max_connections = static_cast<std::uint32_t>(*max);
  }
  if (auto text = reader.string("per_source_rate")) {
    if (auto rate = base::parseRate(*text)) {
      draft.config.per_source_rate = *rate;
    } else {
      reader.errors().add(reader.originOf("per_source_rate"), rate.error().message());
    }
  }
}

// The datagram keys: flow_idle_timeout, responses, max_flows, per_source_max_flows (udp://), and
// an mq:// listener's queue limits.
void readFlowLimits(TableReader& reader, ListenerDraft& draft) {
  auto& scoped = draft.scoped_keys;
  noteScoped(reader, "flow_idle_timeout", KeyScope::kDatagram, scoped);
  noteScoped(reader, "responses", KeyScope::kDatagram, scoped);
  noteScoped(reader, "max_flows", KeyScope::kDatagram, scoped);
  if (auto idle = reader.duration("flow_idle_timeout", base::Duration(1), kMaxDuration)) {
    draft.config.flow_idle_timeout = *idle;
  }
  if (auto responses = reader.integer("responses", 0, kMaxResponses)) {
    draft.config.responses = static_cast<std::uint32_t>(*responses);
  }
  if (auto max_flows = reader.integer("max_flows", 1, kMaxFlows)) {
    draft.config.max_flows = static_cast<std::uint32_t>(*max_flows);
  }
  noteScoped(reader, "per_source_max_flows", KeyScope::kUdp, scoped);
  if (auto max = reader.integer("per_source_max_flows", 0, kMaxFlows)) {
    draft.config.per_source_max_flows = static_cast<std::uint32_t>(*max);
  }
  readQueueLimits(reader, draft.config.mq, scoped);
}

ListenerDraft readListener(TableReader& reader, std::size_t index, const EndpointParser& parse) {
  ListenerDraft draft;
  readListenerTarget(reader, index, parse, draft);
  readConnectionLimits(reader, draft);
  readFlowLimits(reader, draft);
  auto& scoped = draft.scoped_keys;
  noteScoped(reader, "proxy_protocol", KeyScope::kIp, scoped);
  noteScoped(reader, "proxy_trusted", KeyScope::kIp, scoped);
  noteScoped(reader, "proxy_timeout", KeyScope::kTcp, scoped);
  for (std::string_view key : {"routes"sv, "inspect_timeout"sv, "tls_required"sv}) {
    noteScoped(reader, key, KeyScope::kStream, scoped);
  }
  readListenerEdge(reader, draft);
  for (std::string_view key : {"mode"sv, "user"sv, "group"sv}) {
    noteScoped(reader, key, KeyScope::kUnixFile, scoped);
  }
  readSocketFile(reader, draft.config.socket_file);
  readListenerAnnounce(reader, draft);
  readListenerForward(reader, draft);
  reader.reportUnknownKeys();
  return draft;
}

void readBackends(TableReader& reader, PoolDraft& pool, const EndpointParser& parse) {
  pool.backends_origin = reader.originOf("backends");
  const toml::array* backends =
      reader.array("backends", "an array of backends like [{ address = \"tcp://HOST:PORT\" }]");
  if (backends == nullptr) {
    pool.backends_reported = reader.has("backends");
    return;
  }
  for (std::size_t i = 0; i < backends->size(); ++i) {
    std::string key = indexKey(pool.backends_origin.key, i);
    if (auto backend = readBackend(*backends->get(i), key, parse, reader.errors())) {
      pool.backends.push_back(std::move(*backend));
    } else {
      pool.backends_reported = true;
    }
  }
}

PoolDraft readPool(TableReader& reader, std::string name, const EndpointParser& parse) {
  PoolDraft draft;
  draft.config.name = std::move(name);
  draft.balance = reader.originOf("balance");
  if (auto algorithm = reader.choice("balance", balance::parseAlgorithm, algorithmNames())) {
    draft.config.balance = *algorithm;
  }
  draft.hash_key = reader.originOf("hash_key");
  if (auto key = reader.choice("hash_key", balance::parseHashKey, hashKeyNames())) {
    draft.config.hash_key = *key;
    draft.hash_key_set = true;
  }
  draft.table_size = reader.originOf("maglev_table_size");
  if (auto size = reader.integer("maglev_table_size", 1, kMaxMaglevTableSize)) {
    draft.config.maglev_table_size = static_cast<std::uint32_t>(*size);
    draft.table_size_set = true;
  }
  if (auto timeout = reader.duration("queue_timeout", base::Duration(1), kMaxDuration)) {
    draft.config.queue_timeout = *timeout;
  }
  if (auto most = reader.integer("queue_max", 1, kMaxQueue)) {
    draft.config.queue_max = static_cast<std::uint32_t>(*most);
  }
  if (auto timeout = reader.duration("connect_timeout", base::Duration(1), kMaxDuration)) {
    draft.config.connect_timeout = *timeout;
  }
  if (auto retries = reader.integer("retries", 0, kMaxRetries)) {
    draft.config.retries = static_cast<std::uint32_t>(*retries);
  }
  for (std::string_view key : {"connect_timeout"sv, "retries"sv, "queue_timeout"sv, "queue_max"sv,
                               "slow_start"sv, "eject_after"sv, "eject_for"sv, "retry_on"sv}) {
    if (reader.has(key)) draft.proxy_keys.push_back(reader.originOf(key));
  }
  readBackends(reader, draft, parse);
  if (reader.has("health")) {
    draft.health = reader.originOf("health");
    draft.config.health = readHealth(reader, "health");
  }
  if (auto slow_start = reader.duration("slow_start", base::Duration(0), kMaxDuration)) {
    draft.config.slow_start = *slow_start;
  }
  if (auto eject_after = reader.integer("eject_after", 0, kMaxEjectAfter)) {
    draft.config.eject_after = static_cast<std::uint32_t>(*eject_after);
  }
  if (auto eject_for = reader.duration("eject_for", base::Duration(1), kMaxDuration)) {
    draft.config.eject_for = *eject_for;
  }
  if (reader.has("send_proxy")) draft.send_proxy = reader.originOf("send_proxy");
  if (auto send_proxy = reader.choice("send_proxy", parseSendProxy, sendProxyNames())) {
    draft.config.send_proxy = *send_proxy;
  }
  if (reader.has("retry_on")) {
    draft.retry_on = reader.originOf("retry_on");
    if (auto retry_on = readRetryOn(reader)) draft.config.retry_on = *retry_on;
  }
  if (reader.has("agent")) {
    draft.agent = reader.originOf("agent");
    draft.config.agent = readAgent(reader, "agent");
  }
  if (reader.has("source")) {
    draft.source = reader.originOf("source");
    if (auto text = reader.name("source")) {
      if (*text == "client") {
        draft.config.source = {.kind = SourceKind::kClient, .address = {}, .text = *text};
      } else if (auto address = net::parseSourceAddress(*text)) {
        draft.config.source = {.kind = SourceKind::kAddress, .address = *address, .text = *text};
      } else if (*text != "auto") {
        reader.errors().add(*draft.source,
                            fmt::format("expected \"auto\", \"client\" (each client's own address, "
                                        "transparent) or an IP address of this host, got {}",
                                        quoteText(*text)));
      }
    }
  }
  if (reader.has("discover")) {
    draft.discover = reader.originOf("discover");
    draft.config.discover = readDiscover(reader, "discover");
  }
  resolveAgents(draft, reader.errors());
  reader.reportUnknownKeys();
  return draft;
}

void readListeners(TableReader& top, ConfigDraft& draft, const EndpointParser& parse) {
  // With no listener key at all, the problem is the whole file, not its first line.
  draft.listeners_origin =
      top.has("listener") ? top.originOf("listener") : Origin{.key = "listener", .pos = {}};
  const toml::array* listeners = top.array("listener", "an array of tables ([[listener]])");
  if (listeners == nullptr) {
    draft.listeners_reported = top.has("listener");
    return;
  }
  for (std::size_t i = 0; i < listeners->size(); ++i) {
    const toml::node& node = *listeners->get(i);
    std::string key = indexKey("listener", i);
    if (const toml::table* table = node.as_table()) {
      TableReader reader(*table, key, kListenerKeys, top.errors());
      draft.listeners.push_back(readListener(reader, i, parse));
    } else {
      top.errors().add(Origin{.key = key, .pos = positionOf(node.source())},
                       fmt::format("expected a table ([[listener]]), got {}", describe(node)));
      draft.listeners_reported = true;
    }
  }
}

void readPools(TableReader& top, ConfigDraft& draft, const EndpointParser& parse) {
  const toml::table* pools = top.table("pool", "a table of pools ([pool.NAME])");
  if (pools == nullptr) return;
  // Keep the pools in file order (toml++ iterates in key order) so indexes and logs follow the
  // file.
  std::vector<std::pair<const toml::key*, const toml::node*>> entries;
  for (auto&& [key, node] : *pools) entries.emplace_back(&key, &node);
  std::stable_sort(entries.begin(), entries.end(), [](const auto& a, const auto& b) {
    const auto& pa = a.second->source().begin;
    const auto& pb = b.second->source().begin;
    return std::pair(pa.line, pa.column) < std::pair(pb.line, pb.column);
  });
  for (const auto& [key, node] : entries) {
    std::string path = childKey("pool", key->str());
    Origin origin{.key = path, .pos = positionOf(node->source())};
    if (key->str().empty()) {
      top.errors().add(origin, "a pool name must not be empty");
      continue;
    }
    const toml::table* table = node->as_table();
    if (table == nullptr) {
      top.errors().add(origin,
                       fmt::format("expected a table ([{}]), got {}", path, describe(*node)));
      continue;
    }
    TableReader reader(*table, path, kPoolKeys, top.errors());
    draft.pools.push_back(readPool(reader, std::string(key->str()), parse));
  }
}

}  // namespace

std::optional<BackendDraft> readBackend(const toml::node& node, const std::string& key,
                                        const EndpointParser& parse, ErrorList& errors) {
  const toml::table* table = node.as_table();
  if (table == nullptr) {
    errors.add(Origin{.key = key, .pos = positionOf(node.source())},
               fmt::format("expected a table like {{ address = {} }}, got {}", kAddressForms,
                           describe(node)));
    return std::nullopt;
  }
  TableReader reader(*table, key, kBackendKeys, errors);
  BackendDraft draft;
  reader.requireKey("address", fmt::format("every backend needs address = {}", kAddressForms));
  draft.address = reader.originOf("address");
  if (auto address = readEndpoint(reader, "address", parse)) {
    draft.config.address = std::move(*address);
    draft.address_ok = true;
  }
  readQueueLimits(reader, draft.config.mq, draft.scoped_keys);
  draft.name_defaulted = !reader.has("name");
  draft.name = reader.originOf(draft.name_defaulted ? "address" : "name");
  if (draft.name_defaulted) {
    // The name is the backend's identity (maglev hashes it): the address as written.
    if (const toml::node* address = reader.node("address"); address && address->is_string()) {
      draft.config.name = address->as_string()->get();
    }
  } else if (auto name = reader.name("name")) {
    draft.config.name = std::move(*name);
  }
  if (auto weight = reader.integer("weight", 1, kMaxWeight)) {
    draft.config.weight = static_cast<std::uint32_t>(*weight);
  }
  noteScoped(reader, "max_connections", KeyScope::kStream, draft.scoped_keys);
  if (auto max = reader.integer("max_connections", 0, kMaxConnections)) {
    draft.config.max_connections = static_cast<std::uint32_t>(*max);
  }
  if (auto backup = reader.boolean("backup")) draft.config.backup = *backup;
  if (reader.has("role")) {
    draft.role = reader.originOf("role");
    draft.config.role = reader.choice("role", parseRole, roleNames());
  }
  readBackendAgent(reader, parse, draft);
  reader.reportUnknownKeys();
  return draft;
}

ConfigDraft readDraft(const toml::table& root, const std::string& source,
                      const EndpointParser& parse, ErrorList& errors) {
  ConfigDraft draft;
  draft.config.source = source;
  TableReader top(root, "", kTopKeys, errors);
  if (const toml::table* global = top.table("global", "a table ([global])")) {
    readGlobal(*global, errors, draft.config.global);
    const TableReader peek(*global, "global", {}, errors);  // reports nothing itself
    for (std::string_view key : {"user"sv, "group"sv}) {
      if (peek.has(key)) {
        draft.run_as = peek.originOf(key);
        break;
      }
    }
  }
  draft.config.admin = defaultAdminConfig();
  if (const toml::table* admin = top.table("admin", "a table ([admin])")) {
    readAdmin(*admin, parse, errors, draft.config.admin);
  }
  readListeners(top, draft, parse);
  readPools(top, draft, parse);
  top.reportUnknownKeys();
  return draft;
}

}  // namespace l4lb::config
