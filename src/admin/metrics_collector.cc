#include "admin/metrics_collector.h"

#include <string>

#include "admin/metrics_text.h"

namespace l4lb::admin {

namespace {

using Type = MetricsText::Type;

constexpr std::array<control::BackendState, 3> kHealthStates = {
    control::BackendState::kUnknown, control::BackendState::kUp, control::BackendState::kDown};
constexpr std::array<control::AdminState, 3> kAdminStates = {
    control::AdminState::kEnabled, control::AdminState::kDraining, control::AdminState::kDisabled};

std::uint64_t at(const std::vector<std::uint64_t>& values, std::size_t i) {
  return i < values.size() ? values[i] : 0;
}

// One family per listener number: a sample for each stream listener of the config.
template <typename Get>
void perListener(MetricsText& out, const MetricsInput& input, std::string_view name, Type type,
                 std::string_view help, Get get) {
  out.family(name, type, help);
  static const ListenerNumbers kNone;
  for (const auto& listener : input.config->listeners) {
    if (listener.isDatagram()) continue;
    auto it = input.sample.listeners.find(listener.name);
    const ListenerNumbers& numbers = it == input.sample.listeners.end() ? kNone : it->second;
    out.sample({{"listener", listener.name}}, get(numbers));
  }
}

// Connect times and relayed bytes are counted for stream pools alone.
bool streamPool(const config::PoolConfig& pool) {
  return pool.backends.empty() || pool.backends[0].address.isStream();
}

// The same for each backend of each pool (of each stream pool, with `stream_only`).
template <typename Get>
void perBackend(MetricsText& out, const MetricsInput& input, std::string_view name, Type type,
                std::string_view help, bool stream_only, Get get) {
  out.family(name, type, help);
  static const BackendNumbers kNone;
  for (const auto& pool : input.config->pools) {
    if (stream_only && !streamPool(pool)) continue;
    for (const auto& backend : pool.backends) {
      auto it = input.sample.backends.find({pool.name, backend.name});
      const BackendNumbers& numbers = it == input.sample.backends.end() ? kNone : it->second;
      out.sample({{"pool", pool.name}, {"backend", backend.name}}, get(numbers));
    }
  }
}

void writeProcess(MetricsText& out, const MetricsInput& input) {
  out.family("l4lb_build_info", Type::kGauge, "Always 1; the version of l4lb running.");
  out.sample({{"version", input.version}}, std::uint64_t{1});
  out.family("l4lb_start_time_seconds", Type::kGauge, "When l4lb started, in Unix time.");
  out.sample(std::span<const MetricLabel>(), input.start_time_seconds);
  out.family("l4lb_workers", Type::kGauge, "Worker threads serving the listeners.");
  out.sample({}, std::uint64_t{input.workers});
  out.family("l4lb_config_reloads_total", Type::kCounter,
             "Reloads (SIGHUP, POST /api/v1/reload, backend changes of the API), by result.");
  out.sample({{"result", "ok"}}, input.reloads_ok);
  out.sample({{"result", "failed"}}, input.reloads_failed);
}

void writeListeners(MetricsText& out, const MetricsInput& input) {
  perListener(out, input, "l4lb_listener_connections_accepted_total", Type::kCounter,
              "Connections accepted by a stream listener (refused ones included).",
              [](const ListenerNumbers& n) { return n.accepted; });
  perListener(out, input, "l4lb_listener_connections_active", Type::kGauge,
              "Connections of a stream listener open now.",
              [](const ListenerNumbers& n) { return n.active; });
  out.family("l4lb_listener_connections_refused_total", Type::kCounter,
             "Connections refused by a stream listener's rules, by reason.");
  static const ListenerNumbers kNone;
  for (const auto& listener : input.config->listeners) {
    if (listener.isDatagram()) continue;
    auto it = input.sample.listeners.find(listener.name);
    const ListenerNumbers& n = it == input.sample.listeners.end() ? kNone : it->second;
    const std::string_view name = listener.name;
    out.sample({{"listener", name}, {"reason", "acl"}}, n.refused_acl);
    out.sample({{"listener", name}, {"reason", "source-connections"}},
               n.refused_source_connections);
    out.sample({{"listener", name}, {"reason", "source-rate"}}, n.refused_source_rate);
    out.sample({{"listener", name}, {"reason", "proxy-untrusted"}}, n.refused_proxy_untrusted);
  }
  perListener(out, input, "l4lb_listener_accept_paused_total", Type::kCounter,
              "Times a stream listener stopped accepting because it reached max_connections.",
              [](const ListenerNumbers& n) { return n.accept_limited; });
  out.family("l4lb_listener_connections_ended_total", Type::kCounter,
             "Connections of a stream listener that ended, by reason (as in the access log).");
  for (const auto& listener : input.config->listeners) {
    if (listener.isDatagram()) continue;
    auto it = input.sample.listeners.find(listener.name);
    const ListenerNumbers& n = it == input.sample.listeners.end() ? kNone : it->second;
    for (std::size_t r = 0; r < input.sample.end_reasons.size(); ++r) {
      out.sample({{"listener", listener.name}, {"reason", input.sample.end_reasons[r]}},
                 at(n.ended, r));
    }
  }
  perListener(out, input, "l4lb_listener_bytes_from_clients_total", Type::kCounter,
              "Bytes read from a stream listener's clients and relayed to backends.",
              [](const ListenerNumbers& n) { return n.bytes_from_clients; });
  perListener(out, input, "l4lb_listener_bytes_from_backends_total", Type::kCounter,
              "Bytes read from backends and relayed to a stream listener's clients.",
              [](const ListenerNumbers& n) { return n.bytes_from_backends; });
}

void writeBackends(MetricsText& out, const MetricsInput& input) {
  perBackend(out, input, "l4lb_backend_connections_active", Type::kGauge,
             "Connections (stream) or flows (datagram) open to a backend now.", false,
             [](const BackendNumbers& n) { return n.active; });
  perBackend(out, input, "l4lb_backend_connections_total", Type::kCounter,
             "Connections or flows sent to a backend (each connect attempt counts).", false,
             [](const BackendNumbers& n) { return n.total; });
  perBackend(out, input, "l4lb_backend_connect_failures_total", Type::kCounter,
             "Failed connects to a backend, and resets from it.", false,
             [](const BackendNumbers& n) { return n.failures; });
  perBackend(out, input, "l4lb_backend_bytes_to_backend_total", Type::kCounter,
             "Bytes read from clients and relayed to a backend (stream), as they move.", true,
             [](const BackendNumbers& n) { return n.bytes_to_backend; });
  perBackend(out, input, "l4lb_backend_bytes_from_backend_total", Type::kCounter,
             "Bytes read from a backend and relayed to clients (stream), as they move.", true,
             [](const BackendNumbers& n) { return n.bytes_from_backend; });

  out.family("l4lb_backend_connect_duration_seconds", Type::kHistogram,
             "Time from the start of a connect to a backend to its success (stream).");
  std::array<double, balance::kConnectBucketsUs.size()> bounds{};
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    bounds[i] = static_cast<double>(balance::kConnectBucketsUs[i]) / 1e6;
  }
  static const BackendNumbers kNone;
  for (const auto& pool : input.config->pools) {
    if (!streamPool(pool)) continue;
    for (const auto& backend : pool.backends) {
      auto it = input.sample.backends.find({pool.name, backend.name});
      const BackendNumbers& n = it == input.sample.backends.end() ? kNone : it->second;
      const std::array<MetricLabel, 2> labels = {MetricLabel{"pool", pool.name},
                                                 MetricLabel{"backend", backend.name}};
      out.histogram(labels, bounds, n.connect_buckets, static_cast<double>(n.connect_sum_us) / 1e6);
    }
  }

  out.family("l4lb_backend_health_state", Type::kGauge,
             "1 for a backend's current state by its active checks, 0 for the others "
             "(\"unchecked\": its pool has no active checks).");
  for (std::size_t p = 0; p < input.config->pools.size(); ++p) {
    const auto& pool = input.config->pools[p];
    for (std::size_t b = 0; b < pool.backends.size(); ++b) {
      const BackendView view = p < input.backends.size() && b < input.backends[p].size()
                                   ? input.backends[p][b]
                                   : BackendView{};
      const std::string_view backend = pool.backends[b].name;
      for (const auto state : kHealthStates) {
        out.sample({{"pool", pool.name},
                    {"backend", backend},
                    {"state", control::backendStateName(state)}},
                   std::uint64_t{view.checked && view.health == state ? 1U : 0U});
      }
      out.sample({{"pool", pool.name}, {"backend", backend}, {"state", "unchecked"}},
                 std::uint64_t{view.checked ? 0U : 1U});
    }
  }
  out.family("l4lb_backend_admin_state", Type::kGauge,
             "1 for the state an operator set on a backend (admin API), 0 for the others.");
  for (std::size_t p = 0; p < input.config->pools.size(); ++p) {
    const auto& pool = input.config->pools[p];
    for (std::size_t b = 0; b < pool.backends.size(); ++b) {
      const control::AdminState admin = p < input.backends.size() && b < input.backends[p].size()
                                            ? input.backends[p][b].admin
                                            : control::AdminState::kEnabled;
      for (const auto state : kAdminStates) {
        out.sample({{"pool", pool.name},
                    {"backend", pool.backends[b].name},
                    {"state", adminStateName(state)}},
                   std::uint64_t{admin == state ? 1U : 0U});
      }
    }
  }
  out.family("l4lb_backend_weight", Type::kGauge,
             "A backend's weight: the config's, or what an operator set (before slow start "
             "ramps it).");
  for (std::size_t p = 0; p < input.config->pools.size(); ++p) {
    const auto& pool = input.config->pools[p];
    for (std::size_t b = 0; b < pool.backends.size(); ++b) {
      const std::uint32_t weight = p < input.backends.size() && b < input.backends[p].size()
                                       ? input.backends[p][b].weight
                                       : pool.backends[b].weight;
      out.sample({{"pool", pool.name}, {"backend", pool.backends[b].name}}, std::uint64_t{weight});
    }
  }
}

void writeEffectiveWeights(MetricsText& out, const MetricsInput& input) {
  out.family("l4lb_backend_effective_weight", Type::kGauge,
             "The weight new connections are balanced on now, averaged over the workers: "
             "slow start ramps it, and it is 0 where the backend is down, ejected (each "
             "worker's passive health), draining or disabled. Backups count only while no "
             "primary is up.");
  for (const auto& pool : input.config->pools) {
    for (const auto& backend : pool.backends) {
      auto it = input.sample.backends.find({pool.name, backend.name});
      double weight = 0;
      if (it != input.sample.backends.end() && it->second.effective_weights > 0) {
        weight = it->second.effective_weight_sum / it->second.effective_weights;
      }
      out.sample(std::array<MetricLabel, 2>{MetricLabel{"pool", pool.name},
                                            MetricLabel{"backend", backend.name}},
                 weight);
    }
  }
}

void writeDatagrams(MetricsText& out, const MetricsInput& input) {
  const DatagramNumbers& d = input.sample.datagrams;
  out.family("l4lb_datagram_flows_active", Type::kGauge,
             "Datagram flows open now (all datagram listeners).");
  out.sample({}, d.flows_active);
  out.family("l4lb_datagram_flows_created_total", Type::kCounter, "Datagram flows set up.");
  out.sample({}, d.flows_created);
  out.family("l4lb_datagram_flows_ended_total", Type::kCounter,
             "Datagram flows that ended, by reason (\"evicted\": the flow table was full).");
  for (std::size_t r = 0; r < input.sample.flow_ends.size(); ++r) {
    out.sample({{"reason", input.sample.flow_ends[r]}}, at(d.ended, r));
  }
  out.family("l4lb_datagram_flows_moved_total", Type::kCounter,
             "Datagram flows moved to another backend (the first refused, or went down).");
  out.sample({}, d.flows_moved);
  out.family("l4lb_datagrams_received_total", Type::kCounter,
             "Datagrams received from clients and replies received from backends.");
  out.sample({{"from", "client"}}, d.datagrams_in);
  out.sample({{"from", "backend"}}, d.replies_in);
  out.family("l4lb_datagrams_sent_total", Type::kCounter,
             "Datagrams forwarded to backends and replies delivered to clients.");
  out.sample({{"to", "backend"}}, d.datagrams_sent);
  out.sample({{"to", "client"}}, d.replies_sent);
  out.family("l4lb_datagram_bytes_total", Type::kCounter,
             "Bytes of datagrams taken into flows from clients, and of replies from backends.");
  out.sample({{"from", "client"}}, d.bytes_in);
  out.sample({{"from", "backend"}}, d.bytes_out);
  out.family("l4lb_datagrams_dropped_total", Type::kCounter, "Datagrams dropped, by reason.");
  for (std::size_t r = 0; r < kDatagramDropReasons.size(); ++r) {
    out.sample({{"reason", kDatagramDropReasons[r]}}, d.dropped[r]);
  }
  out.family("l4lb_datagram_backend_unreachable_total", Type::kCounter,
             "Times a backend refused a flow's datagrams (ICMP port unreachable, or mq).");
  out.sample({}, d.backend_unreachable);
  out.family("l4lb_datagram_receive_errors_total", Type::kCounter,
             "Errors receiving datagrams (other than would-block).");
  out.sample({}, d.receive_errors);
}

}  // namespace

void BackendNumbers::add(const balance::BackendCounters& counters) {
  active += counters.active.get();
  total += counters.total.get();
  failures += counters.failures.get();
  bytes_to_backend += counters.bytes_to_backend.get();
  bytes_from_backend += counters.bytes_from_backend.get();
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

std::string renderMetrics(const MetricsInput& input) {
  MetricsText out;
  writeProcess(out, input);
  if (input.config != nullptr) {
    writeListeners(out, input);
    writeBackends(out, input);
    writeEffectiveWeights(out, input);
    writeDatagrams(out, input);
  }
  return out.take();
}

}  // namespace l4lb::admin
