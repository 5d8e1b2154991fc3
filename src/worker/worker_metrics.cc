// Worker::addMetrics: what GET /metrics reads of one worker, from any thread.
#include "proxy/end_reason.h"
#include "proxy/flow_log.h"
#include "worker/worker.h"

namespace l4lb::worker {

void Worker::addMetrics(stats::MetricsSample& sample) const {
  constexpr auto kEndReasons = static_cast<std::size_t>(proxy::EndReason::kCount);
  constexpr auto kFlowEnds = static_cast<std::size_t>(proxy::FlowEnd::kCount);
  if (sample.end_reasons.empty()) {
    for (std::size_t r = 0; r < kEndReasons; ++r) {
      sample.end_reasons.push_back(proxy::endReasonName(static_cast<proxy::EndReason>(r)));
    }
    for (std::size_t r = 0; r < kFlowEnds; ++r) {
      sample.flow_ends.push_back(proxy::flowEndName(static_cast<proxy::FlowEnd>(r)));
    }
  }
  // The newest generation; it holds the counters of the older ones' listeners and backends it
  // kept (shared), so nothing a kept name counted is lost.
  const std::shared_ptr<const Generation> generation = published_.load();
  if (generation) {
    const auto& config = generation->config();
    for (std::uint32_t i = 0; i < config.listeners.size(); ++i) {
      if (config.listeners[i].isDatagram()) continue;
      sample.listener(config.listeners[i].name).add(*generation->listener_counters[i]);
    }
    for (std::size_t p = 0; p < config.pools.size(); ++p) {
      const auto& pool = config.pools[p];
      const balance::Balancer& balancer = *generation->pools[p].balancer;
      const double scale = proxy::weightScale(pool);
      for (std::uint32_t b = 0; b < pool.backends.size(); ++b) {
        stats::BackendNumbers& n = sample.backend(pool.name, pool.backends[b].name);
        n.add(balancer.counters(b));
        n.effective_weight_sum += balancer.effectiveWeight(b) / scale;
        ++n.effective_weights;
      }
    }
  }
  sample.datagrams.add(datagram_stats_);
}

}  // namespace l4lb::worker
