#pragma once

#include <array>
#include <atomic>
#include <cstdint>

#include "proxy/end_reason.h"

namespace l4lb::proxy {

// A counter with one writer (its worker) and any number of readers (admin, metrics). A relaxed
// load and store instead of fetch_add: no locked instruction on the data path.
class Counter {
 public:
  void add(std::uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sub(std::uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// One stream listener's counters in one worker (the metrics' per-listener families). A reload
// that keeps a listener's name hands them to its next generation, so they stay monotonic.
struct ListenerCounters {
  Counter accepted;
  Counter active;
  Counter accept_limited;  // times accepting stopped at max_connections
  Counter refused_acl;
  Counter refused_source_connections;
  Counter refused_source_rate;
  Counter refused_proxy_untrusted;
  Counter bytes_from_clients;  // relayed to backends, counted as they are read
  Counter bytes_from_backends;
  std::array<Counter, static_cast<std::size_t>(EndReason::kCount)> ended;

  Counter& endedBy(EndReason reason) { return ended[static_cast<std::size_t>(reason)]; }
};

// One worker's shard of the statistics.
struct WorkerStats {
  Counter accepted;
  Counter active;
  Counter accept_errors;
  Counter accept_paused;
  Counter accept_limited;              // times a listener stopped accepting at max_connections
  Counter queued;                      // connections that waited for a backend slot
  Counter refused_acl;                 // allow / deny
  Counter refused_source_connections;  // per_source_max_connections
  Counter refused_source_rate;         // per_source_rate
  Counter refused_proxy_untrusted;     // proxy_protocol = "accept" from outside proxy_trusted
  Counter routed;                      // TLS connections a route sent to its pool
  Counter not_tls;                     // on routing listeners: not TLS, or a malformed hello
  Counter connect_failures;
  Counter bytes_from_clients;
  Counter bytes_from_backends;
  Counter spliced;      // directions that turned out bulk and moved on to splice(2)
  Counter handed_over;  // sessions a binary upgrade moved to the new process (old process)
  Counter adopted;      // sessions taken over from the old process (new process)
  Counter retried;      // sessions moved to another backend after it ended before answering
  std::array<Counter, static_cast<std::size_t>(EndReason::kCount)> ended;

  Counter& endedBy(EndReason reason) { return ended[static_cast<std::size_t>(reason)]; }
};

}  // namespace l4lb::proxy
