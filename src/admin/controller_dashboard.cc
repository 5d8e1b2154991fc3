// GET /api/v1/dashboard: one answer with everything the dashboard's page shows (README.md,
// "Dashboard"), which it polls every second. Counters are totals since start; the page derives
// rates from two answers and their `time_ms`. Built from what the other routes and /metrics read
// (the controller's state and one sample of the workers' counters), so the page and the API
// cannot disagree.

#include <cmath>

#include "admin/controller.h"
#include "control/health_snapshot.h"

namespace l4lb::admin {

namespace {

using nlohmann::json;

const stats::BackendNumbers& numbersOf(const MetricsSample& sample, const std::string& pool,
                                       const std::string& backend) {
  static const stats::BackendNumbers kNone;
  auto it = sample.backends.find({pool, backend});
  return it == sample.backends.end() ? kNone : it->second;
}

// The state the page shows as a word and a colour. The API's `state` first (an operator's drain
// or disable, else the checks' up, down or unknown); then what only the workers know: a backend
// that is up to the checks but balanced on with no weight anywhere is ejected (passive health),
// and one with part of its weight is in its slow-start ramp or ejected on some workers.
void addShownState(json& backend, const config::PoolConfig& pool,
                   const stats::BackendNumbers& numbers) {
  const std::string state = backend["state"].get<std::string>();
  std::string shown = state == "draining" ? "drain" : state;
  const std::uint32_t weight = backend["weight"].get<std::uint32_t>();
  json effective = nullptr;
  if (numbers.effective_weights > 0) {
    const double value = numbers.effective_weight_sum / numbers.effective_weights;
    effective = std::round(value * 100) / 100;
    if (shown == "up" && weight > 0) {
      if (value <= 0) {
        shown = "ejected";
      } else if (value < weight) {
        shown = pool.slow_start.count() > 0 ? "slow-start" : "ejected";
        backend["ramp_percent"] = static_cast<int>(value * 100 / weight);
      }
    }
  }
  backend["effective_weight"] = std::move(effective);
  backend["shown"] = shown;
}

json listenerJson(const config::ListenerConfig& listener, const MetricsSample& sample,
                  const config::Config& config) {
  json out{{"name", listener.name},
           {"bind", listener.bind.url},
           {"kind", listener.isDatagram() ? "datagram" : "stream"},
           {"pool", listener.pool}};
  if (listener.isDatagram()) {
    // Datagram counters are per worker, not per listener: its pool's flows stand for it.
    std::uint64_t flows = 0;
    std::uint64_t created = 0;
    for (const auto& pool : config.pools) {
      if (pool.name != listener.pool) continue;
      for (const auto& backend : pool.backends) {
        const auto& n = numbersOf(sample, pool.name, backend.name);
        flows += n.active;
        created += n.total;
      }
    }
    out["active"] = flows;
    out["accepted"] = created;
    out["refused"] = json::object();
    return out;
  }
  static const stats::ListenerNumbers kNone;
  auto it = sample.listeners.find(listener.name);
  const stats::ListenerNumbers& n = it == sample.listeners.end() ? kNone : it->second;
  out["active"] = n.active;
  out["accepted"] = n.accepted;
  out["refused"] = json{{"acl", n.refused_acl},
                        {"source-connections", n.refused_source_connections},
                        {"source-rate", n.refused_source_rate},
                        {"proxy-untrusted", n.refused_proxy_untrusted}};
  // Not refusals: the times it stopped accepting at max_connections (the kernel's queue holds
  // what comes meanwhile).
  out["accept_paused"] = n.accept_limited;
  out["bytes_in"] = n.bytes_from_clients;
  out["bytes_out"] = n.bytes_from_backends;
  return out;
}

}  // namespace

ApiReply Controller::dashboard(bool bearer) const {
  MetricsSample sample;
  if (hooks_.metrics) hooks_.metrics(sample);  // the workers' counters, outside the lock
  json out = status().body;                    // takes the lock itself
  out["time_ms"] = control::wallClockMillis();
  out["changes_need_token"] = bearer;
  out["packet"] = packetJson();  // null without a packet path; outside the lock, as the sample
  std::lock_guard lock(mutex_);
  json listeners = json::array();
  for (const auto& listener : config_->listeners) {
    json entry = listenerJson(listener, sample, *config_);
    const auto state = listener_states_.find(listener.name);
    entry["admin_state"] = adminStateName(
        state == listener_states_.end() ? control::AdminState::kEnabled : state->second);
    listeners.push_back(std::move(entry));
  }
  out["listeners"] = std::move(listeners);
  json pools = json::array();
  for (std::uint32_t p = 0; p < config_->pools.size(); ++p) {
    const auto& pool = config_->pools[p];
    json entry = poolJson(p, true);
    entry["slow_start_seconds"] = pool.slow_start.count() / 1000.0;
    entry["eject_after"] = pool.eject_after;
    for (auto& backend : entry["backends"]) {
      const std::string name = backend["name"].get<std::string>();
      const auto& numbers = numbersOf(sample, pool.name, name);
      addShownState(backend, pool, numbers);
      // The sample's figures, so that every number of one answer is of one moment.
      backend["active"] = numbers.active;
      backend["total"] = numbers.total;
      backend["connect_failures"] = numbers.connect_failures;
      backend["resets"] = numbers.resets;
      backend["ejections"] = numbers.ejections;
      backend["bytes_in"] = numbers.bytes_to_backend;
      backend["bytes_out"] = numbers.bytes_from_backend;
    }
    pools.push_back(std::move(entry));
  }
  out["pools"] = std::move(pools);
  const auto& d = sample.datagrams;
  out["datagrams"] = json{{"flows_active", d.flows_active},
                          {"flows_created", d.flows_created},
                          {"bytes_in", d.bytes_in},
                          {"bytes_out", d.bytes_out}};
  return ApiReply{200, std::move(out)};
}

}  // namespace l4lb::admin
