#include "admin/metrics_collector.h"

#include <array>
#include <span>
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

// One member of a family of a stats/ list: its family, and where the number is in `Numbers`
// (`each`: one per end reason, labelled by the reason's name).
template <typename Numbers>
struct Field {
  Type type;
  std::string_view family;
  std::string_view label;  // "": none
  std::string_view value;  // of `label`
  std::string_view help;   // the family's, on its first member
  std::uint64_t Numbers::*one = nullptr;
  std::vector<std::uint64_t> Numbers::*each = nullptr;
};

// Calls `write(family)` for each run of fields of one family, in the list's order.
template <typename Numbers, std::size_t N, typename Write>
void forEachFamily(MetricsText& out, const std::array<Field<Numbers>, N>& fields, Write write) {
  for (std::size_t i = 0; i < N;) {
    std::size_t end = i + 1;
    while (end < N && fields[end].family == fields[i].family) ++end;
    out.family(fields[i].family, fields[i].type, fields[i].help);
    write(std::span<const Field<Numbers>>(fields.data() + i, end - i));
    i = end;
  }
}

#define L4LB_FIELD(Numbers, type, member, family, label, value, help) \
  Field<Numbers>{type, family, label, value, help, &Numbers::member, nullptr},
#define L4LB_FIELDS(Numbers, member, family, label, value, help) \
  Field<Numbers>{Type::kCounter, family, label, value, help, nullptr, &Numbers::member},

#define L4LB_LISTENER_COUNTER(member, family, reason, help) \
  L4LB_FIELD(ListenerNumbers, Type::kCounter, member, family, "reason", reason, help)
#define L4LB_LISTENER_GAUGE(member, family, reason, help) \
  L4LB_FIELD(ListenerNumbers, Type::kGauge, member, family, "reason", reason, help)
#define L4LB_LISTENER_BY_REASON(member, family, reason, help) \
  L4LB_FIELDS(ListenerNumbers, member, family, "reason", reason, help)
constexpr std::array kListenerFields = {
    L4LB_LISTENER_STATS(L4LB_LISTENER_COUNTER, L4LB_LISTENER_GAUGE, L4LB_LISTENER_BY_REASON)};

#define L4LB_DATAGRAM_COUNTER(member, family, label, value, help) \
  L4LB_FIELD(DatagramNumbers, Type::kCounter, member, family, label, value, help)
#define L4LB_DATAGRAM_GAUGE(member, family, label, value, help) \
  L4LB_FIELD(DatagramNumbers, Type::kGauge, member, family, label, value, help)
#define L4LB_DATAGRAM_BY_REASON(member, family, label, value, help) \
  L4LB_FIELDS(DatagramNumbers, member, family, label, value, help)
constexpr std::array kDatagramFields = {
    L4LB_DATAGRAM_STATS(L4LB_DATAGRAM_COUNTER, L4LB_DATAGRAM_GAUGE, L4LB_DATAGRAM_BY_REASON)};

// `stream_only` rides in `label`: "stream" for the families of stream pools alone.
#define L4LB_BACKEND_COUNTER(member, stream_only, family, help) \
  L4LB_FIELD(BackendNumbers, Type::kCounter, member, family, stream_only ? "stream" : "", "", help)
#define L4LB_BACKEND_GAUGE(member, stream_only, family, help) \
  L4LB_FIELD(BackendNumbers, Type::kGauge, member, family, stream_only ? "stream" : "", "", help)
constexpr std::array kBackendFields = {
    L4LB_BACKEND_STATS(L4LB_BACKEND_COUNTER, L4LB_BACKEND_GAUGE)};

// Connect times and relayed bytes are counted for stream pools alone.
bool streamPool(const config::PoolConfig& pool) {
  return pool.backends.empty() || pool.backends[0].address.isStream();
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
  out.family(
      "l4lb_access_log_dropped_total", Type::kCounter,
      "Access log lines dropped: the syslog target's socket had no room, or a write to the file "
      "failed (a full disk); never waited for.");
  out.sample({}, input.sample.access_log_dropped);
}

void writeListeners(MetricsText& out, const MetricsInput& input) {
  static const ListenerNumbers kNone;
  forEachFamily(out, kListenerFields, [&](std::span<const Field<ListenerNumbers>> family) {
    for (const auto& listener : input.config->listeners) {
      if (listener.isDatagram()) continue;
      auto it = input.sample.listeners.find(listener.name);
      const ListenerNumbers& n = it == input.sample.listeners.end() ? kNone : it->second;
      const std::string_view name = listener.name;
      for (const auto& field : family) {
        if (field.each != nullptr) {
          for (std::size_t r = 0; r < input.sample.end_reasons.size(); ++r) {
            out.sample({{"listener", name}, {field.label, input.sample.end_reasons[r]}},
                       at(n.*field.each, r));
          }
        } else if (field.value.empty()) {
          out.sample({{"listener", name}}, n.*field.one);
        } else {
          out.sample({{"listener", name}, {field.label, field.value}}, n.*field.one);
        }
      }
    }
  });
}

void writeBackendCounters(MetricsText& out, const MetricsInput& input) {
  static const BackendNumbers kNone;
  forEachFamily(out, kBackendFields, [&](std::span<const Field<BackendNumbers>> family) {
    for (const auto& pool : input.config->pools) {
      if (!family[0].label.empty() && !streamPool(pool)) continue;
      for (const auto& backend : pool.backends) {
        auto it = input.sample.backends.find({pool.name, backend.name});
        const BackendNumbers& n = it == input.sample.backends.end() ? kNone : it->second;
        out.sample({{"pool", pool.name}, {"backend", backend.name}}, n.*family[0].one);
      }
    }
  });
}

void writeConnectDurations(MetricsText& out, const MetricsInput& input) {
  static const BackendNumbers kNone;
  out.family("l4lb_backend_connect_duration_seconds", Type::kHistogram,
             "Time from the start of a connect to a backend to its success (stream).");
  std::array<double, stats::kConnectBucketsUs.size()> bounds{};
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    bounds[i] = static_cast<double>(stats::kConnectBucketsUs[i]) / 1e6;
  }
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
}

void writeHealthStates(MetricsText& out, const MetricsInput& input) {
  out.family("l4lb_backend_health_state", Type::kGauge,
             "1 for a backend's current state by its active checks and its agent, 0 for the others "
             "(\"unchecked\": its pool has neither active checks nor an agent).");
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
}

// Unix time, as blackbox_exporter's probe_ssl_earliest_cert_expiry: alert on "expires within
// N days" with `l4lb_backend_certificate_expiry_seconds - time() < N * 86400`.
void writeCertificateExpiry(MetricsText& out, const MetricsInput& input) {
  out.family("l4lb_backend_certificate_expiry_seconds", Type::kGauge,
             "When the certificate an https check last verified expires, in Unix time.");
  for (std::size_t p = 0; p < input.config->pools.size() && p < input.backends.size(); ++p) {
    const auto& pool = input.config->pools[p];
    for (std::size_t b = 0; b < pool.backends.size() && b < input.backends[p].size(); ++b) {
      const std::int64_t not_after = input.backends[p][b].certificate_not_after;
      if (not_after == 0) continue;
      out.sample({{"pool", pool.name}, {"backend", pool.backends[b].name}},
                 static_cast<std::uint64_t>(not_after));
    }
  }
}

void writeAdminStates(MetricsText& out, const MetricsInput& input) {
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
}

void writeWeights(MetricsText& out, const MetricsInput& input) {
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

// Discovered backends (README.md, "Discovery"): which source found each.
void writeDiscovered(MetricsText& out, const MetricsInput& input) {
  out.family("l4lb_backend_discovered", Type::kGauge,
             "1 for each backend a pool's discover source found, labelled with the source.");
  for (const auto& pool : input.config->pools) {
    for (const auto& backend : pool.backends) {
      if (backend.discovered_by.empty()) continue;
      out.sample(
          {{"pool", pool.name}, {"backend", backend.name}, {"source", backend.discovered_by}},
          std::uint64_t{1});
    }
  }
}

// The backends' families, each labelled by pool and backend.
void writeBackends(MetricsText& out, const MetricsInput& input) {
  writeBackendCounters(out, input);
  writeConnectDurations(out, input);
  writeHealthStates(out, input);
  writeCertificateExpiry(out, input);
  writeAdminStates(out, input);
  writeWeights(out, input);
  writeDiscovered(out, input);
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

// Instances behind ECMP agree on a client's backend when their tables are the same: one series
// per maglev pool whose digest label an alert can compare across instances (count by (pool)
// (count by (pool, digest) (l4lb_pool_maglev_info)) > 1).
void writeMaglev(MetricsText& out, const MetricsInput& input) {
  out.family("l4lb_pool_maglev_info", Type::kGauge,
             "Always 1, for each maglev pool: the digest of the table new connections are "
             "balanced on (the same on every instance with the same backends and weights).");
  for (std::size_t p = 0; p < input.config->pools.size() && p < input.maglev_digests.size(); ++p) {
    if (input.maglev_digests[p].empty()) continue;
    out.sample({{"pool", input.config->pools[p].name}, {"digest", input.maglev_digests[p]}},
               std::uint64_t{1});
  }
}

void writeDatagrams(MetricsText& out, const MetricsInput& input) {
  const DatagramNumbers& d = input.sample.datagrams;
  forEachFamily(out, kDatagramFields, [&](std::span<const Field<DatagramNumbers>> family) {
    for (const auto& field : family) {
      if (field.each != nullptr) {
        for (std::size_t r = 0; r < input.sample.flow_ends.size(); ++r) {
          out.sample({{field.label, input.sample.flow_ends[r]}}, at(d.*field.each, r));
        }
      } else if (field.label.empty()) {
        out.sample({}, d.*field.one);
      } else {
        out.sample({{field.label, field.value}}, d.*field.one);
      }
    }
  });
}

}  // namespace

// Announcing VIPs (README.md): each announced listener's state and its changes.
void writeAnnounce(MetricsText& out, const MetricsInput& input) {
  if (input.announce.empty()) return;
  out.family("l4lb_vip_announced", MetricsText::Type::kGauge,
             "1 while the listener's VIP is on the announce interface (routers send to it), 0 "
             "when withdrawn.");
  for (const auto& view : input.announce) {
    out.sample({{"listener", view.listener}, {"vip", view.vip}},
               std::uint64_t{view.announced ? 1U : 0U});
  }
  out.family("l4lb_vip_announce_changes_total", MetricsText::Type::kCounter,
             "Announcements and withdrawals of the listener's VIP since l4lb started.");
  for (const auto& view : input.announce) {
    out.sample({{"listener", view.listener}, {"vip", view.vip}}, view.changes);
  }
}

std::string renderMetrics(const MetricsInput& input) {
  MetricsText out;
  writeProcess(out, input);
  if (input.config != nullptr) {
    writeListeners(out, input);
    writeBackends(out, input);
    writeEffectiveWeights(out, input);
    writeMaglev(out, input);
    writeDatagrams(out, input);
  }
  writeAnnounce(out, input);
  return out.take();
}

}  // namespace l4lb::admin
