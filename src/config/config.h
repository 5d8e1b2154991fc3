#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "balance/balancer.h"
#include "balance/flow_hash.h"
#include "base/duration.h"
#include "base/log.h"
#include "base/rate.h"
#include "config/discover_config.h"
#include "net/cidr.h"
#include "net/endpoint.h"
#include "net/local_source.h"
#include "net/message_queue.h"
#include "net/socket_file.h"
#include "proto/check_reply.h"
#include "proto/sni_match.h"

namespace l4lb::config {

using namespace std::chrono_literals;

struct BackendConfig {
  std::string name;  // `name` key; defaults to the address as written
  net::Endpoint address;
  std::uint32_t weight = 1;
  net::MessageQueueLimits mq;  // mq:// backends: limits the queue is created with
  bool backup = false;         // used only while no primary backend of the pool is up
  // The role this backend's health check wants, in place of the pool's: a replica pool's backup
  // that is the primary (reads fall back to it when no replica is up). None: the pool's.
  std::optional<proto::Role> role;
  // Stream backends: open connections from all workers; a full backend is skipped. 0: no limit.
  std::uint32_t max_connections = 0;
  // The agent check (the pool's `agent` table): where this backend's agent listens, its own
  // `agent` URL or its address's host at the pool's agent port. Unset: the pool has no agent.
  std::optional<net::Endpoint> agent;
  // The discover source that found this backend ("dns:_redis._tcp.example"); empty: the file's
  // (or the admin API's). Discovered backends are merged into each config generation
  // (config/discovered.h).
  std::string discovered_by;
};

// HAProxy's agent-check: a small server beside each backend, asked every `interval`, answers a
// line that sets the backend's weight ("75%") or operator state ("drain", "maint", "ready").
struct AgentConfig {
  std::uint16_t port = 0;  // on each backend's own host; 0: every backend names its `agent`
  base::Duration interval = 2s;
  base::Duration timeout = 1s;
  std::string send;  // sent first (HAProxy's agent-send), escapes resolved; empty: nothing
};

// Where a pool's connections and flows to its backends come from (`source`): the kernel's pick
// ("auto"), one address of this host (an IP literal), or each client's own address ("client",
// transparent: the backend sees the client without PROXY protocol, and the host routes its
// replies back to l4lb: README.md, "Transparent source").
enum class SourceKind : std::uint8_t { kAuto, kAddress, kClient };

struct SourceConfig {
  SourceKind kind = SourceKind::kAuto;
  net::LocalSource address;  // kAddress
  std::string text;          // as written: "client", "198.51.100.1"

  friend bool operator==(const SourceConfig& a, const SourceConfig& b) { return a.text == b.text; }
};

// What an active health check sends and expects (README.md, "Health checks").
enum class CheckKind : std::uint8_t {
  kTcp,
  kSendExpect,
  kRedis,
  kMemcached,
  kHttp,
  kMysql,
  kPgsql,
  kTls,
  kDns,   // datagram pools
  kUdp,   // datagram pools: send, then a refusal is down (and with expect, a reply must match)
  kHttps  // TLS with the certificate verified, then http inside
};

[[nodiscard]] std::string_view checkKindName(CheckKind kind);

// Where a secret (token_file, password_file) was read from, as the file was when read: for the
// check of its mode and owner once the whole config, [global] user and strict_secrets, is known
// (config/secret_files.h).
struct SecretSource {
  std::string path;
  std::uint32_t mode = 0;   // st_mode
  std::uint32_t owner = 0;  // st_uid
  std::string file;         // where the *_file key was written: file, line, column, dotted key
  std::uint32_t line = 0;
  std::uint32_t column = 0;
  std::string key;

  bool operator==(const SecretSource&) const = default;
};

struct HealthConfig {
  CheckKind check = CheckKind::kTcp;
  base::Duration interval = 1s;
  base::Duration timeout = 1s;
  std::uint32_t rise = 2;  // consecutive successes that bring a down backend up
  std::uint32_t fall = 3;  // consecutive failures that take an up backend down
  std::string send;        // send-expect and udp, escapes already resolved
  std::string expect;
  bool expect_set = false;  // udp: expect was written, so a matching reply is required
  std::string password;     // redis AUTH, mysql and pgsql logins; from password_file, never logged
  std::optional<SecretSource> password_source;  // password_file
  std::string path = "/";
  std::string host;  // http Host header; empty: the backend's address
  std::uint32_t min_status = 200;
  std::uint32_t max_status = 399;
  std::string user;  // pgsql, mysql
  std::string database;
  proto::Role role = proto::Role::kAny;
  std::string sni;      // tls, https: server_name of the ClientHello; empty: none sent
  std::string ca_file;  // https: CA certificates (PEM); empty: the system's
  base::Duration expiry_warning = std::chrono::hours(24 * 14);  // https: warn this long before
  std::string dns_name = ".";  // dns: the name asked for, as written
  std::uint16_t dns_type = 2;  // dns: NS; the root's NS is what a resolver always has

  // Same check (a reload that changes it makes the last check's result stale).
  bool operator==(const HealthConfig&) const = default;
};

// The PROXY protocol header a stream pool sends first on each backend connection.
enum class SendProxy : std::uint8_t { kOff, kV1, kV2 };

[[nodiscard]] std::optional<SendProxy> parseSendProxy(std::string_view text);
[[nodiscard]] const std::vector<std::string_view>& sendProxyNames();

// When a stream connection is tried again on another backend (pool key retry_on). Flags.
enum RetryOn : std::uint8_t {
  kRetryConnFailure = 1,     // the connect failed or timed out
  kRetryEmptyResponse = 2,   // the backend closed or reset before sending a byte
  kRetryRefusedGreeting = 4  // its first answer was a refusal in the health check's protocol
};

[[nodiscard]] std::optional<RetryOn> parseRetryOn(std::string_view text);
[[nodiscard]] const std::vector<std::string_view>& retryOnNames();

struct PoolConfig {
  std::string name;
  balance::Algorithm balance = balance::Algorithm::kRoundRobin;
  balance::HashKey hash_key = balance::HashKey::kClientIp;
  std::uint32_t maglev_table_size = 65537;  // must be prime
  base::Duration connect_timeout = 2s;
  // How long a connection may wait for a backend when every eligible one is at max_connections.
  base::Duration queue_timeout = 5s;
  // How many connections may wait so, over all workers; the next is closed (end "queue-full").
  std::uint32_t queue_max = 4096;
  std::uint32_t retries = 2;
  // Retries past a connect (empty-response, refused-greeting) resend what the client sent so
  // far, so they are the operator's call: safe for protocols where the backend acts on nothing
  // before its first answer (MySQL, PostgreSQL logins), not for every request.
  std::uint8_t retry_on = kRetryConnFailure;
  std::vector<BackendConfig> backends;
  std::optional<HealthConfig> health;  // active checks; none: every backend is up
  base::Duration slow_start{0};        // 0: a backend that comes up gets its full weight at once
  std::uint32_t eject_after = 0;       // consecutive connect failures that eject; 0: never
  base::Duration eject_for = 10s;      // first ejection; doubles on each one, up to 5 minutes
  SendProxy send_proxy = SendProxy::kOff;
  std::optional<AgentConfig> agent;  // the agent check; none: no agent is asked
  SourceConfig source;
  std::optional<DiscoverConfig> discover;  // backends found by DNS or etcd, beside `backends`
};

// One entry of a listener's routes: the pool for TLS clients whose ClientHello matches. With both
// sni and alpn, both must match.
struct RouteConfig {
  std::optional<proto::SniPattern> sni;
  std::string alpn;  // one protocol name the client offers ("h2"); empty: any
  std::string pool;
  std::uint32_t pool_index = 0;  // resolved by the loader
};

// How a listener's traffic reaches its backends (`forward`): through the proxy (terminated and
// relayed by the workers), or on the packet path (docs/packet-path.md): an XDP program on
// `interface` forwards each packet to a backend, which answers the client directly. dsr rewrites
// only the MAC addresses (backends on the same L2 segment, the VIP on their lo); ipip
// encapsulates (backends decapsulate: a kernel ipip device or `l4lb decap`).
enum class Forward : std::uint8_t { kProxy, kDsr, kIpip };

[[nodiscard]] std::string_view forwardName(Forward forward);

struct ListenerConfig {
  std::string name;
  net::Endpoint bind;
  std::string pool;
  std::uint32_t index = 0;              // in Config::listeners
  std::uint32_t pool_index = 0;         // index into Config::pools, resolved by the loader
  base::Duration idle_timeout = 10min;  // stream listeners
  int backlog = 4096;                   // stream listeners
  // Open connections; beyond, new ones wait in the kernel's backlog. 0: no limit.
  std::uint32_t max_connections = 0;
  // Per client IP address (tcp:// listeners): open connections, and new connections per time;
  // excess connections are closed at once. 0 / disabled: no limit.
  std::uint32_t per_source_max_connections = 0;
  base::Rate per_source_rate;
  // Client addresses let in (empty: all) and kept out; deny wins. Decided before any backend is
  // contacted. tcp:// and udp:// listeners.
  net::CidrList allow;
  net::CidrList deny;

  // PROXY protocol accepted from these sources (tcp://): the header's client is the client for
  // balancing, ACLs, limits, logs and send_proxy. Connections from elsewhere are refused.
  bool proxy_accept = false;
  net::CidrList proxy_trusted;
  base::Duration proxy_timeout = 3s;  // for the whole header to arrive
  // TLS routing on the ClientHello (stream listeners): the first matching route's pool, else
  // `pool`. Not TLS: `pool`, or closed when tls_required.
  std::vector<RouteConfig> routes;
  base::Duration inspect_timeout = 5s;  // for the whole ClientHello to arrive
  bool tls_required = false;

  // Datagram listeners (udp://, unixgram://, mq://).
  base::Duration flow_idle_timeout = 30s;
  std::uint32_t responses = 0;  // replies per client datagram that end a flow; 0: no limit
  std::uint32_t max_flows = 65536;
  std::uint32_t per_source_max_flows = 0;  // udp://: flows per client IP address; 0: no limit
  net::MessageQueueLimits mq;              // mq:// listeners: limits the queue is created with

  // unix:///PATH and unixgram:///PATH listeners: the socket file's mode and owner (`mode`,
  // `user`, `group`); unset parts as bind(2) makes them (0777 & ~umask, l4lb's user and group).
  net::SocketFile socket_file;

  // Announce the bind address (the VIP) on [global] announce_interface while this listener is
  // served and its pool has enough backends up (README.md, "Announcing VIPs"). tcp://, udp://.
  bool announce = false;
  std::optional<std::uint32_t> announce_min_backends;  // unset: [global]'s

  // The packet path: no socket is bound, no worker serves it; the bind is the VIP.
  Forward forward = Forward::kProxy;
  std::string interface;  // where the XDP program sees the VIP's packets (dsr, ipip)

  [[nodiscard]] bool packetPath() const { return forward != Forward::kProxy; }
  [[nodiscard]] bool isDatagram() const { return !bind.isStream(); }
  // Reads a TLS ClientHello before choosing a pool.
  [[nodiscard]] bool inspectsTls() const { return !routes.empty() || tls_required; }
  // Reads something from the client before connecting to a backend.
  [[nodiscard]] bool readsPreamble() const { return proxy_accept || inspectsTls(); }
};

struct GlobalConfig {
  std::uint32_t workers = 0;  // 0: one per CPU
  base::LogLevel log_level = base::LogLevel::kInfo;
  std::string access_log = "off";  // "off" | "stderr" | a file path | "syslog[:URL]"
  // access_log = "syslog" or "syslog:URL": where the lines go as RFC 3164 messages, a
  // unixgram:// or udp:// endpoint (default unixgram:///dev/log); unset otherwise.
  std::optional<net::Endpoint> access_log_syslog;
  int access_log_facility = 16;  // syslog facility number: local0
  std::string access_log_tag = "l4lb";
  // Where the operator's drain, disable and weights of the admin API are saved on each change
  // and restored from at start (HAProxy's server-state-file); empty: not kept (the default).
  std::string state_file;
  base::Duration shutdown_grace = 30s;
  // After a wake-up that found work, workers poll for this long before sleeping (0: never).
  // Trades idle time of the workers' CPUs for fewer cross-CPU wake-ups; see docs/performance.md.
  std::uint32_t busy_poll_us = 0;
  // Open client connections across all listeners; beyond, accepting pauses. 0: no limit.
  std::uint32_t max_connections = 0;
  // Bulk directions of stream sessions move their bytes with splice(2) through a pipe instead of
  // copying them through l4lb ("auto"), or never ("off"); see docs/performance.md.
  bool splice = true;
  // Whom l4lb runs as once every listener and the admin API are bound (README.md, "systemd and
  // packaging"). Empty user: no change. Resolved when the config is read, so an unknown name is a
  // config error; the ids are what the drop uses. A restart-only setting.
  std::string user;
  std::string group;  // empty: the user's primary group
  std::uint32_t uid = 0;
  std::uint32_t gid = 0;
  // The TUN interface l4lb owns and puts announced VIPs on (net/tun_device.h); empty: none, and
  // no listener may announce. A restart-only setting (a binary upgrade keeps the interface).
  std::string announce_interface;
  std::uint32_t announce_min_backends = 1;  // backends up for a VIP to be announced
  // After a withdrawal for health, how long the pool must be healthy before the VIP is announced
  // again; doubled while it flaps, up to announce_hold_down_max (control/announce_state.h).
  base::Duration announce_hold_down = 5s;
  base::Duration announce_hold_down_max = 60s;
  // On SIGTERM with VIPs announced: withdrawn first, served this long while routers move new
  // flows away, then the drain of shutdown_grace begins.
  base::Duration withdraw_grace = 5s;
  // A secret file (token_file, password_file) that others may read, or owned by neither root nor
  // the user l4lb runs as: an error when true, a warning otherwise.
  bool strict_secrets = false;
};

// The runtime API (README.md, "Admin API").
inline constexpr std::string_view kDefaultAdminListen = "unix:///run/l4lb/admin.sock";

struct AdminConfig {
  std::vector<net::Endpoint> listen;  // unix:// and tcp://; empty: no admin API
  // From token_file: the Bearer token changes over tcp:// need. Never logged.
  std::string token;
  std::optional<SecretSource> token_source;  // token_file
};

struct Config {
  std::string source;  // file path, or "<command line>"
  GlobalConfig global;
  AdminConfig admin;
  std::vector<ListenerConfig> listeners;
  std::vector<PoolConfig> pools;
};

// One problem found in a config: where, which key, and what is wrong.
struct ConfigError {
  std::string file;
  std::uint32_t line = 0;  // 0 when the error has no single place (e.g. "no listeners")
  std::uint32_t column = 0;
  std::string key;  // dotted path, e.g. "pool.redis.backends[1].address"
  std::string message;

  // "file:line:column: key: message", the form every error is printed in.
  [[nodiscard]] std::string format() const;
};

}  // namespace l4lb::config
