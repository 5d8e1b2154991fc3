#pragma once

// A pool's `discover` table (README.md, "Discovery"): where a pool's backends come from besides
// its file, and the safety rules every answer passes before it changes the pool.

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "base/duration.h"

namespace l4lb::config {

enum class DiscoverKind : std::uint8_t { kDns, kEtcd };

// The DNS records a dns source asks for.
enum class DnsRecordType : std::uint8_t { kSrv, kA, kAaaa };

[[nodiscard]] std::string_view dnsRecordTypeName(DnsRecordType type);

// How many of a pool's discovered backends one answer may remove: a share ("50%") or a count.
struct RemovalCap {
  bool percent = true;
  std::uint32_t value = 50;

  // The most backends an answer may remove from `applied` discovered ones.
  [[nodiscard]] std::uint32_t allowed(std::size_t applied) const;
  bool operator==(const RemovalCap&) const = default;
};

struct DiscoverConfig {
  DiscoverKind kind = DiscoverKind::kDns;
  std::string dns_name;  // dns: the name asked for, as written
  DnsRecordType type = DnsRecordType::kSrv;
  std::uint16_t port = 0;  // A and AAAA: the backends' port (SRV records carry theirs)
  std::string server;      // dns: "HOST:PORT" of the server asked; empty: /etc/resolv.conf's
  std::string etcd_url;    // etcd: "http://HOST:PORT"
  std::string prefix;      // etcd: the keys under it are the backends
  bool datagram = false;   // protocol = "udp": discovered backends are udp://, else tcp://
  // Asked again at the answer's TTL, never sooner than min_interval nor later than interval;
  // after an error, min_interval doubling up to interval.
  base::Duration interval = std::chrono::seconds(5);
  base::Duration min_interval = std::chrono::seconds(1);
  base::Duration timeout = std::chrono::seconds(2);  // one question's wait, retries included
  base::Duration settle = std::chrono::seconds(1);   // an answer must hold this long to apply
  RemovalCap max_removed;

  // What discovered backends are marked with: "dns:_redis._tcp.example", "etcd:/services/x/".
  [[nodiscard]] std::string label() const;
  bool operator==(const DiscoverConfig&) const = default;
};

}  // namespace l4lb::config
