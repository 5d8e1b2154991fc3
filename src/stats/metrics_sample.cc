#include "stats/metrics_sample.h"

namespace l4lb::stats {

void BackendNumbers::add(const BackendCounters& counters) {
#define L4LB_STATS_SUM(member, ...) member += counters.member.get();
  L4LB_BACKEND_STATS(L4LB_STATS_SUM, L4LB_STATS_SUM)
#undef L4LB_STATS_SUM
  for (std::size_t i = 0; i < connect_buckets.size(); ++i) {
    connect_buckets[i] += counters.connect_buckets[i].get();
  }
  connect_sum_us += counters.connect_sum_us.get();
}

ListenerNumbers& MetricsSample::listener(std::string_view name) {
  auto it = listeners.find(name);
  if (it == listeners.end()) it = listeners.emplace(std::string(name), ListenerNumbers{}).first;
  return it->second;
}

BackendNumbers& MetricsSample::backend(std::string_view pool, std::string_view name) {
  return backends[{std::string(pool), std::string(name)}];
}

}  // namespace l4lb::stats
