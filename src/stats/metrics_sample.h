#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "stats/backend_counters.h"
#include "stats/datagram_stats.h"
#include "stats/stream_stats.h"

namespace l4lb::stats {

// The workers' counters for GET /metrics, summed over the workers at scrape time (relaxed
// atomics: no lock on the data path): the lists' members as plain numbers, a reason's as one
// number per reason. Keyed by name, not index: a worker may still serve the config before a
// reload.
#define L4LB_STATS_NUMBER(member, ...) std::uint64_t member = 0;
#define L4LB_STATS_NUMBERS(member, ...) std::vector<std::uint64_t> member;
#define L4LB_STATS_SUM(member, ...) member += counters.member.get();
#define L4LB_STATS_SUM_EACH(member, ...) addEach(member, counters.member);

template <std::size_t N>
void addEach(std::vector<std::uint64_t>& sums, const std::array<Counter, N>& counters) {
  sums.resize(N, 0);
  for (std::size_t i = 0; i < N; ++i) sums[i] += counters[i].get();
}

struct ListenerNumbers {
  L4LB_LISTENER_STATS(L4LB_STATS_NUMBER, L4LB_STATS_NUMBER, L4LB_STATS_NUMBERS)

  // Adds a worker's counters (`ended` by MetricsSample::end_reasons).
  template <typename Reason>
  void add(const ListenerCounters<Reason>& counters) {
    L4LB_LISTENER_STATS(L4LB_STATS_SUM, L4LB_STATS_SUM, L4LB_STATS_SUM_EACH)
  }
};

struct BackendNumbers {
  L4LB_BACKEND_STATS(L4LB_STATS_NUMBER, L4LB_STATS_NUMBER)
  std::array<std::uint64_t, kConnectBucketsUs.size() + 1> connect_buckets{};
  std::uint64_t connect_sum_us = 0;
  // The weights the workers balance on now (config units), summed, and how many were added.
  double effective_weight_sum = 0;
  unsigned effective_weights = 0;

  // Adds a worker's counters.
  void add(const BackendCounters& counters);
};

// The datagram counters are kept per worker, not per listener: these are their sums.
struct DatagramNumbers {
  L4LB_DATAGRAM_STATS(L4LB_STATS_NUMBER, L4LB_STATS_NUMBER, L4LB_STATS_NUMBERS)

  // Adds a worker's counters (`ended` by MetricsSample::flow_ends).
  template <typename Reason, std::string_view (*kReasonName)(Reason)>
  void add(const DatagramStats<Reason, kReasonName>& counters) {
    L4LB_DATAGRAM_STATS(L4LB_STATS_SUM, L4LB_STATS_SUM, L4LB_STATS_SUM_EACH)
  }
};

#undef L4LB_STATS_NUMBER
#undef L4LB_STATS_NUMBERS
#undef L4LB_STATS_SUM
#undef L4LB_STATS_SUM_EACH

struct MetricsSample {
  // The names of the reasons connections and flows end for (proxy/end_reason.h, flow_log.h),
  // which the workers fill in: stats/ and admin/ do not reach into proxy/.
  std::vector<std::string_view> end_reasons;
  std::vector<std::string_view> flow_ends;
  std::map<std::string, ListenerNumbers, std::less<>> listeners;
  std::map<std::pair<std::string, std::string>, BackendNumbers> backends;  // (pool, backend)
  DatagramNumbers datagrams;
  std::uint64_t access_log_dropped = 0;  // lines the syslog target had no room for

  [[nodiscard]] ListenerNumbers& listener(std::string_view name);
  [[nodiscard]] BackendNumbers& backend(std::string_view pool, std::string_view name);
};

}  // namespace l4lb::stats
