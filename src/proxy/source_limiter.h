#pragma once

#include <array>
#include <cstdint>
#include <cstring>
#include <unordered_map>

#include "base/rate.h"
#include "proxy/client_address.h"

namespace l4lb::proxy {

// A client's address without its port, IPv4 as IPv4-mapped IPv6, for per-source accounting.
struct SourceKey {
  std::array<std::uint8_t, 16> bytes{};
  bool operator==(const SourceKey&) const = default;

  // False for clients without an IP address (Unix sockets).
  [[nodiscard]] static bool from(const ClientAddress& address, SourceKey& key);
  [[nodiscard]] static bool from(const sockaddr* address, socklen_t length, SourceKey& key);
};

struct SourceKeyHash {
  std::size_t operator()(const SourceKey& key) const noexcept;
};

// One worker's per-client-address limits for one listener: concurrent connections
// (per_source_max_connections) and new connections per time (per_source_rate, a token bucket).
// Exact although each worker counts alone, because a listener with per-source limits has the
// kernel steer each client address to one worker (net::steerBySource).
//
// An address is remembered only while it has open connections or a bucket not yet refilled, so
// the table holds the clients that matter now, not every client ever seen.
class SourceLimiter {
 public:
  struct Limits {
    std::uint32_t max_connections = 0;  // 0: no limit
    base::Rate rate;                    // count 0: no limit
    [[nodiscard]] bool any() const { return max_connections > 0 || rate.enabled(); }
  };
  enum class Verdict : std::uint8_t { kAdmitted, kTooManyConnections, kRateExceeded };

  explicit SourceLimiter(Limits limits) : limits_(limits) {}

  // A new connection from `key`: admitted (and counted until release()) or refused.
  [[nodiscard]] Verdict admit(const SourceKey& key, std::int64_t now);
  void release(const SourceKey& key, std::int64_t now);

  [[nodiscard]] std::size_t tracked() const { return entries_.size(); }

 private:
  struct Entry {
    std::uint32_t connections = 0;
    base::TokenBucket bucket;
  };
  void forgetIdle(std::int64_t now);

  Limits limits_;
  std::unordered_map<SourceKey, Entry, SourceKeyHash> entries_;
  std::size_t sweep_at_ = 1024;  // table size that triggers the next sweep of idle entries
};

}  // namespace l4lb::proxy
