// Worker::addMetrics: what GET /metrics reads of one worker, from any thread.
#include "proxy/end_reason.h"
#include "proxy/flow_log.h"
#include "worker/worker.h"

namespace l4lb::worker {

void Worker::addMetrics(admin::MetricsSample& sample) const {
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
      const proxy::ListenerCounters& c = *generation->listener_counters[i];
      admin::ListenerNumbers& n = sample.listener(config.listeners[i].name);
      n.accepted += c.accepted.get();
      n.active += c.active.get();
      n.accept_limited += c.accept_limited.get();
      n.refused_acl += c.refused_acl.get();
      n.refused_source_connections += c.refused_source_connections.get();
      n.refused_source_rate += c.refused_source_rate.get();
      n.refused_proxy_untrusted += c.refused_proxy_untrusted.get();
      n.bytes_from_clients += c.bytes_from_clients.get();
      n.bytes_from_backends += c.bytes_from_backends.get();
      n.ended.resize(kEndReasons, 0);
      for (std::size_t r = 0; r < kEndReasons; ++r) n.ended[r] += c.ended[r].get();
    }
    for (std::size_t p = 0; p < config.pools.size(); ++p) {
      const auto& pool = config.pools[p];
      const balance::Balancer& balancer = *generation->pools[p].balancer;
      // As in Snapshot::build: weights are scaled where slow start ramps them.
      const double scale =
          pool.slow_start.count() > 0 && pool.balance != balance::Algorithm::kMaglev
              ? proxy::kSlowStartScale
              : 1;
      for (std::uint32_t b = 0; b < pool.backends.size(); ++b) {
        admin::BackendNumbers& n = sample.backend(pool.name, pool.backends[b].name);
        n.add(balancer.counters(b));
        n.effective_weight_sum += balancer.effectiveWeight(b) / scale;
        ++n.effective_weights;
      }
    }
  }
  const proxy::DatagramStats& d = datagram_stats_;
  admin::DatagramNumbers& n = sample.datagrams;
  n.datagrams_in += d.datagrams_in.get();
  n.datagrams_sent += d.datagrams_sent.get();
  n.replies_in += d.replies_in.get();
  n.replies_sent += d.replies_sent.get();
  n.bytes_in += d.bytes_in.get();
  n.bytes_out += d.bytes_out.get();
  n.flows_created += d.flows_created.get();
  n.flows_active += d.flows_active.get();
  n.flows_moved += d.flows_moved.get();
  n.backend_unreachable += d.backend_unreachable.get();
  n.receive_errors += d.receive_errors.get();
  // In admin::kDatagramDropReasons' order.
  const std::array<const proxy::Counter*, admin::kDatagramDropReasons.size()> dropped = {
      &d.dropped_truncated, &d.dropped_no_backend,      &d.dropped_source_limit,
      &d.dropped_acl,       &d.dropped_proxy_untrusted, &d.dropped_bad_proxy_header,
      &d.dropped_send,      &d.dropped_no_return,       &d.dropped_too_large,
      &d.dropped_queue_full};
  for (std::size_t i = 0; i < dropped.size(); ++i) n.dropped[i] += dropped[i]->get();
  n.ended.resize(kFlowEnds, 0);
  for (std::size_t r = 0; r < kFlowEnds; ++r) n.ended[r] += d.ended[r].get();
}

}  // namespace l4lb::worker
