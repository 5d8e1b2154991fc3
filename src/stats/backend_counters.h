#pragma once

#include <array>
#include <cstddef>
#include <cstdint>

#include "stats/counter.h"

// One backend's counters in one worker, each declared once (as stats/stream_stats.h explains):
// COUNTER/GAUGE(member, stream_only, family, help). `stream_only`: the family shows stream
// pools alone. The connect-time histogram is declared below, by hand.
#define L4LB_BACKEND_STATS(COUNTER, GAUGE)                                                  \
  /* connections or flows open now */                                                       \
  GAUGE(active, false, "l4lb_backend_connections_active",                                   \
        "Connections (stream) or flows (datagram) open to a backend now.")                  \
  /* connections or flows sent to it (each connect attempt counts) */                       \
  COUNTER(total, false, "l4lb_backend_connections_total",                                   \
          "Connections or flows sent to a backend (each connect attempt counts).")          \
  /* connects that failed: refused, timed out, unreachable (a reset after it is not one) */ \
  COUNTER(connect_failures, false, "l4lb_backend_connect_failures_total",                   \
          "Connects to a backend that failed (refused, timed out, unreachable).")           \
  /* connected, then reset by the backend, or ended before its first answer (retry_on) */   \
  COUNTER(resets, true, "l4lb_backend_resets_total",                                        \
          "Connections a backend accepted, then reset or ended before its first answer.")   \
  /* times a worker's passive health (eject_after) ejected it */                            \
  COUNTER(ejections, false, "l4lb_backend_ejections_total",                                 \
          "Times a worker's passive health ejected a backend (eject_after).")               \
  /* stream bytes relayed, counted as they are read (long connections report as they go) */ \
  COUNTER(bytes_to_backend, true, "l4lb_backend_bytes_to_backend_total",                    \
          "Bytes read from clients and relayed to a backend (stream), as they move.")       \
  COUNTER(bytes_from_backend, true, "l4lb_backend_bytes_from_backend_total",                \
          "Bytes read from a backend and relayed to clients (stream), as they move.")

namespace l4lb::stats {

// Upper bounds of the connect-time histogram's buckets, in microseconds (0.5 ms to 2.5 s); one
// more bucket past the last takes the slower connects.
inline constexpr std::array<std::uint64_t, 12> kConnectBucketsUs = {
    500,    1'000,   2'500,   5'000,   10'000,    25'000,
    50'000, 100'000, 250'000, 500'000, 1'000'000, 2'500'000};

// Written by one worker alone, read by the admin thread.
struct BackendCounters {
#define L4LB_STATS_BACKEND_MEMBER(member, ...) Counter member;
  L4LB_BACKEND_STATS(L4LB_STATS_BACKEND_MEMBER, L4LB_STATS_BACKEND_MEMBER)
#undef L4LB_STATS_BACKEND_MEMBER
  // Successful connects by how long they took (not cumulative: a reader adds them up); the
  // count is the sum of the buckets.
  std::array<Counter, kConnectBucketsUs.size() + 1> connect_buckets;
  Counter connect_sum_us;

  void observeConnect(std::uint64_t us) {
    std::size_t i = 0;
    while (i < kConnectBucketsUs.size() && us > kConnectBucketsUs[i]) ++i;
    connect_buckets[i].add();
    connect_sum_us.add(us);
  }
};

}  // namespace l4lb::stats
