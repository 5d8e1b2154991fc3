#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "config/config.h"
#include "config/error_list.h"
#include "config/load_options.h"

namespace l4lb::config {

// A config as read, before the checks that span entries: each value with the key and place it
// came from. Both the TOML reader and the command-line quick mode fill one in, so the two get
// the same checks and the same messages.

// Keys that apply to some endpoint kinds only, with where each was written, so that a key set
// on the wrong kind of listener or backend is reported at its own line.
enum class KeyScope : std::uint8_t {
  kStream,    // idle_timeout, backlog
  kDatagram,  // flow_idle_timeout, responses, max_flows
  kQueue,     // mq_max_messages, mq_message_size
  kTcp,       // per_source_*: only clients with an IP address have a source to count
  kUdp,       // per_source_max_flows, likewise
  kIp,        // allow, deny: tcp:// and udp:// listeners, whose clients have an IP address
  kUnixFile,  // mode, user, group: unix:///PATH and unixgram:///PATH, which have a file
};

struct ScopedKey {
  Origin origin;
  KeyScope scope;
};

struct BackendDraft {
  BackendConfig config;
  Origin name;  // the `name` key, or the address when the name defaults to it
  bool name_defaulted = false;
  Origin address;
  bool address_ok = false;  // config.address holds a parsed endpoint
  std::vector<ScopedKey> scoped_keys;
  std::optional<Origin> role;   // the `role` key, when written
  std::optional<Origin> agent;  // the backend's own `agent` key, when written
};

struct PoolDraft {
  PoolConfig config;
  Origin backends_origin;          // the backends array (or the pool, when it has none)
  bool backends_reported = false;  // a problem with the list is already reported
  std::vector<BackendDraft> backends;
  Origin balance;  // where maglev table-size errors go when the size is the default
  Origin hash_key;
  bool hash_key_set = false;
  Origin table_size;
  bool table_size_set = false;
  std::optional<Origin> health;      // the health table, when written
  std::optional<Origin> send_proxy;  // when written
  std::optional<Origin> retry_on;    // when written
  std::optional<Origin> agent;       // the agent table, when written
  std::optional<Origin> source;      // when written
  std::optional<Origin> discover;    // the discover table, when written
  // Keys of the proxy path's connections written on this pool (connect_timeout, retries,
  // queue_*, slow_start, eject_*, retry_on): read_forward.cc reports them when only packet-path
  // listeners use the pool.
  std::vector<Origin> proxy_keys;
};

struct ListenerDraft {
  ListenerConfig config;
  Origin name;  // the `name` key, or the listener itself when the name is a default
  Origin bind;
  Origin pool;
  bool bind_ok = false;  // config.bind holds a parsed endpoint
  bool pool_set = false;
  std::vector<ScopedKey> scoped_keys;
  std::optional<Origin> proxy_protocol;  // when written
  std::vector<Origin> route_pools;       // the pool key of each route, for resolving it
  std::optional<Origin> announce;        // `announce = true`, when written so
  std::optional<Origin> forward;         // when written
  std::optional<Origin> interface;       // when written
  // Keys of the proxy path written on this listener (read_forward.h: a packet-path listener
  // reports each).
  std::vector<Origin> proxy_keys;
};

struct ConfigDraft {
  Config config;  // source and global; listeners and pools are assembled from the drafts
  std::vector<ListenerDraft> listeners;
  std::vector<PoolDraft> pools;
  std::optional<Origin> run_as;     // [global] user (or group), when written
  Origin listeners_origin;          // where "no listeners" is reported
  bool listeners_reported = false;  // a problem with the list is already reported
};

// The checks of one pool that look across its entries (duplicate backend names, stream and
// datagram kinds, keys that apply to the other kind, maglev table sizes).
void checkPool(const PoolDraft& pool, ErrorList& errors);

// `source` (source_checks.cc): a pool's backends take a source address of its family, and every
// listener whose clients lend theirs (source = "client") has clients of the backends' family.
void checkPoolSource(const PoolDraft& pool, ErrorList& errors);
void checkClientSources(const std::vector<ListenerDraft>& listeners,
                        const std::vector<PoolDraft>& pools, ErrorList& errors);

// Runs the checks that look across entries (duplicate names and binds, pool references, stream
// and datagram kinds matching, keys that apply to other kinds, maglev table sizes), resolves pool
// indexes and assembles the config. Errors go to `errors`; the returned config is meaningful only
// when there are none.
[[nodiscard]] Config finishDraft(ConfigDraft&& draft, ErrorList& errors);

}  // namespace l4lb::config
