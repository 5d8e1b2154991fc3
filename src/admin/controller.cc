#include "admin/controller.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <utility>
#include <variant>

#include "base/log.h"
#include "io/clock.h"
#include "net/endpoint.h"
#include "proxy/balancer_plans.h"

namespace l4lb::admin {

namespace {

using nlohmann::json;

std::string_view endpointKindName(const net::Endpoint& endpoint) {
  return endpoint.isStream() ? "stream" : "datagram";
}

}  // namespace

ApiReply errorReply(int status, std::string message) {
  return ApiReply{status, json{{"error", std::move(message)}}};
}

Controller::Controller(const config::Config& config, StartInfo info, ControllerHooks hooks)
    : config_(&config), info_(std::move(info)), hooks_(std::move(hooks)) {
  // Made as l4lb starts (before the workers): the wall clock now, less the time since started_ms.
  const auto since_start_ms = info_.started_ms == 0 ? 0 : io::monotonicMillis() - info_.started_ms;
  start_time_seconds_ =
      std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count() -
      static_cast<double>(since_start_ms) / 1000;
  start_time_seconds_ = std::floor(start_time_seconds_ * 1000) / 1000;
  for (const auto& pool : config_->pools) {
    current_.states.emplace_back(pool.backends.size(), control::AdminState::kEnabled);
    std::vector<std::uint32_t> weights;
    for (const auto& backend : pool.backends) weights.push_back(backend.weight);
    current_.weights.push_back(std::move(weights));
    current_.maglev_tables.emplace_back();
  }
}

void Controller::rebase(
    const config::Config& config, std::string config_sha256,
    const std::function<void(std::shared_ptr<const control::AdminSnapshot>)>& apply) {
  std::lock_guard lock(mutex_);
  control::AdminSnapshot next;
  next.version = current_.version + 1;
  for (const auto& pool : config.pools) {
    std::vector<control::AdminState> states(pool.backends.size(), control::AdminState::kEnabled);
    std::vector<std::uint32_t> weights;
    for (const auto& backend : pool.backends) weights.push_back(backend.weight);
    bool weights_changed = false;
    for (std::uint32_t p = 0; p < config_->pools.size(); ++p) {
      const auto& old_pool = config_->pools[p];
      if (old_pool.name != pool.name) continue;
      for (std::uint32_t b = 0; b < pool.backends.size(); ++b) {
        for (std::uint32_t o = 0; o < old_pool.backends.size(); ++o) {
          const auto& was = old_pool.backends[o];
          const auto& now = pool.backends[b];
          if (was.name != now.name || was.address.url != now.address.url) continue;
          states[b] = current_.states[p][o];
          // An operator's weight stays unless the file changed that weight itself.
          if (was.weight == now.weight && current_.weights[p][o] != now.weight) {
            weights[b] = current_.weights[p][o];
            weights_changed = true;
          }
        }
      }
    }
    std::shared_ptr<const balance::MaglevTable> table;
    if (weights_changed && pool.balance == balance::Algorithm::kMaglev) {
      table = std::make_shared<const balance::MaglevTable>(proxy::balancerSlots(pool, weights),
                                                           pool.maglev_table_size);
    }
    next.states.push_back(std::move(states));
    next.weights.push_back(std::move(weights));
    next.maglev_tables.push_back(std::move(table));
  }
  current_ = std::move(next);
  config_ = &config;
  info_.config_sha256 = std::move(config_sha256);
  health_.reset();  // the next health snapshot is the new checker's
  apply(std::make_shared<const control::AdminSnapshot>(current_));
}

void Controller::noteReload(bool ok, std::string message) {
  std::lock_guard lock(mutex_);
  ++(ok ? reloads_ok_ : reloads_failed_);
  last_reload_ok_ = ok;
  last_reload_message_ = std::move(message);
  last_reload_ms_ = io::monotonicMillis();
}

control::AdminState Controller::stateOf(std::uint32_t pool, std::uint32_t backend) const {
  std::lock_guard lock(mutex_);
  return current_.states[pool][backend];
}

std::uint32_t Controller::weightOf(std::uint32_t pool, std::uint32_t backend) const {
  std::lock_guard lock(mutex_);
  return current_.weights[pool][backend];
}

void Controller::onHealth(std::shared_ptr<const control::HealthSnapshot> states) {
  std::lock_guard lock(mutex_);
  health_ = std::move(states);
}

std::uint64_t Controller::changes() const {
  std::lock_guard lock(mutex_);
  return changes_;
}

std::optional<std::uint32_t> Controller::findPool(std::string_view name) const {
  for (std::uint32_t p = 0; p < config_->pools.size(); ++p) {
    if (config_->pools[p].name == name) return p;
  }
  return std::nullopt;
}

ApiReply Controller::status() const {
  std::lock_guard lock(mutex_);
  const std::int64_t now_ms = io::monotonicMillis();
  const std::int64_t uptime_ms = now_ms - info_.started_ms;
  json config{{"file", config_->source}};
  config["sha256"] = info_.config_sha256.empty() ? json(nullptr) : json(info_.config_sha256);
  json reloads{{"ok", reloads_ok_}, {"failed", reloads_failed_}};
  if (last_reload_ms_ != 0) {
    reloads["last"] = json{{"result", last_reload_ok_ ? "ok" : "failed"},
                           {"seconds_ago", (now_ms - last_reload_ms_) / 1000},
                           {"message", last_reload_message_}};
  }
  return ApiReply{200, json{{"version", info_.version},
                            {"pid", ::getpid()},
                            {"uptime_seconds", uptime_ms / 1000},
                            {"workers", info_.workers},
                            {"config", std::move(config)},
                            {"reloads", std::move(reloads)}}};
}

ApiReply Controller::reload() {
  if (!hooks_.reload) return errorReply(400, "reload is not available here");
  ReloadOutcome outcome = hooks_.reload();
  if (!outcome.ok) return errorReply(400, outcome.message);
  json body{{"result", "reloaded"}, {"message", outcome.message}};
  body["warnings"] = outcome.warnings;
  std::lock_guard lock(mutex_);
  body["config"] = json{{"file", config_->source}, {"sha256", info_.config_sha256}};
  return ApiReply{200, std::move(body)};
}

ApiReply Controller::reloadDryRun() {
  if (!hooks_.reload_dry_run) return errorReply(400, "reload is not available here");
  ReloadOutcome outcome = hooks_.reload_dry_run();
  if (!outcome.ok) return errorReply(400, outcome.message);
  json body{{"result", "dry-run"}, {"message", outcome.message}};
  body["changes"] = outcome.changes;
  body["warnings"] = outcome.warnings;
  return ApiReply{200, std::move(body)};
}

ApiReply Controller::upgrade() {
  if (!hooks_.upgrade) return errorReply(400, "a binary upgrade is not available here");
  ReloadOutcome outcome = hooks_.upgrade();
  if (!outcome.ok) return errorReply(409, outcome.message);
  return ApiReply{200, json{{"socket", outcome.message}}};
}

ApiReply Controller::listeners() const {
  std::lock_guard lock(mutex_);
  json list = json::array();
  for (const auto& listener : config_->listeners) {
    list.push_back(json{{"name", listener.name},
                        {"bind", listener.bind.url},
                        {"kind", endpointKindName(listener.bind)},
                        {"pool", listener.pool}});
  }
  return ApiReply{200, json{{"listeners", std::move(list)}}};
}

json Controller::backendJson(std::uint32_t pool, std::uint32_t backend) const {
  const auto& pool_config = config_->pools[pool];
  const auto& config = pool_config.backends[backend];
  const bool checked = pool_config.health.has_value();
  control::BackendState health = control::BackendState::kUnknown;
  json last_check = nullptr;
  if (checked && health_ && pool < health_->pools.size() && backend < health_->pools[pool].size()) {
    health = health_->pools[pool][backend];
    if (pool < health_->reasons.size() && backend < health_->reasons[pool].size()) {
      last_check = health_->reasons[pool][backend];
    }
  }
  const control::AdminState admin = current_.states[pool][backend];
  json out{{"name", config.name},
           {"address", config.address.url},
           {"state", shownStateName(admin, health, checked)},
           {"admin_state", adminStateName(admin)},
           {"health", checked ? json(control::backendStateName(health)) : json(nullptr)},
           {"last_check", std::move(last_check)},
           {"weight", current_.weights[pool][backend]},
           {"backup", config.backup}};
  if (hooks_.totals) {
    const BackendTotals totals = hooks_.totals(config_->pools[pool].name, config.name);
    out["active"] = totals.active;
    out["total"] = totals.total;
    out["connect_failures"] = totals.connect_failures;
    out["resets"] = totals.resets;
    out["bytes_in"] = totals.bytes_in;
    out["bytes_out"] = totals.bytes_out;
  }
  return out;
}

json Controller::poolJson(std::uint32_t pool, bool with_backends) const {
  const auto& config = config_->pools[pool];
  json out{
      {"name", config.name},
      {"balance", balance::algorithmName(config.balance)},
      {"kind", config.backends.empty() ? "stream" : endpointKindName(config.backends[0].address)},
      {"health_checks", config.health.has_value()}};
  std::uint32_t available = 0;
  json backends = json::array();
  for (std::uint32_t b = 0; b < config.backends.size(); ++b) {
    json backend = backendJson(pool, b);
    if (backend["state"] == "up") ++available;
    if (with_backends) backends.push_back(std::move(backend));
  }
  out["backends_total"] = config.backends.size();
  out["backends_available"] = available;
  if (with_backends) out["backends"] = std::move(backends);
  return out;
}

ApiReply Controller::pools() const {
  std::lock_guard lock(mutex_);
  json list = json::array();
  for (std::uint32_t p = 0; p < config_->pools.size(); ++p) list.push_back(poolJson(p, false));
  return ApiReply{200, json{{"pools", std::move(list)}}};
}

ApiReply Controller::pool(std::string_view name) const {
  std::lock_guard lock(mutex_);
  auto index = findPool(name);
  if (!index) return errorReply(404, fmt::format("no pool \"{}\"", name));
  return ApiReply{200, poolJson(*index, true)};
}

ApiReply Controller::metrics() const {
  MetricsInput input;
  // All under the lock: a reload may replace the config the names point into.
  std::lock_guard lock(mutex_);
  input.config = config_;
  input.version = info_.version;
  input.workers = info_.workers;
  input.start_time_seconds = start_time_seconds_;
  input.reloads_ok = reloads_ok_;
  input.reloads_failed = reloads_failed_;
  for (std::uint32_t p = 0; p < config_->pools.size(); ++p) {
    const auto& pool = config_->pools[p];
    std::vector<BackendView> views;
    for (std::uint32_t b = 0; b < pool.backends.size(); ++b) {
      BackendView view;
      view.checked = pool.health.has_value();
      if (view.checked && health_ && p < health_->pools.size() && b < health_->pools[p].size()) {
        view.health = health_->pools[p][b];
      }
      view.admin = current_.states[p][b];
      view.weight = current_.weights[p][b];
      views.push_back(view);
    }
    input.backends.push_back(std::move(views));
  }
  if (hooks_.metrics) hooks_.metrics(input.sample);
  ApiReply reply;
  reply.content_type = std::string(kMetricsContentType);
  reply.text = renderMetrics(input);
  return reply;
}

ApiReply Controller::changeBackend(std::string_view pool_name, std::string_view backend_name,
                                   const BackendChange& change) {
  std::lock_guard lock(mutex_);
  auto pool = findPool(pool_name);
  if (!pool) return errorReply(404, fmt::format("no pool \"{}\"", pool_name));
  const auto& pool_config = config_->pools[*pool];
  std::optional<std::uint32_t> found;
  for (std::uint32_t b = 0; b < pool_config.backends.size(); ++b) {
    if (pool_config.backends[b].name == backend_name) found = b;
  }
  if (!found) {
    return errorReply(404,
                      fmt::format("pool \"{}\" has no backend \"{}\"", pool_name, backend_name));
  }
  const std::uint32_t backend = *found;
  bool changed = false;
  if (change.state && *change.state != current_.states[*pool][backend]) {
    const control::AdminState before = current_.states[*pool][backend];
    current_.states[*pool][backend] = *change.state;
    ++changes_;
    changed = true;
    base::logInfo("pool \"{}\" backend {}: {} -> {} (admin API)", pool_config.name,
                  pool_config.backends[backend].name, adminStateName(before),
                  adminStateName(*change.state));
    if (hooks_.pause_checks && pool_config.health &&
        (before == control::AdminState::kDisabled) !=
            (*change.state == control::AdminState::kDisabled)) {
      hooks_.pause_checks(*pool, backend, *change.state == control::AdminState::kDisabled);
    }
  }
  if (change.weight && *change.weight != current_.weights[*pool][backend]) {
    const std::uint32_t before = current_.weights[*pool][backend];
    current_.weights[*pool][backend] = *change.weight;
    ++changes_;
    changed = true;
    base::logInfo("pool \"{}\" backend {}: weight {} -> {} (admin API)", pool_config.name,
                  pool_config.backends[backend].name, before, *change.weight);
    if (pool_config.balance == balance::Algorithm::kMaglev) {
      // The table is rebuilt here, off the data path, and shared by every worker.
      current_.maglev_tables[*pool] = std::make_shared<const balance::MaglevTable>(
          proxy::balancerSlots(pool_config, current_.weights[*pool]),
          pool_config.maglev_table_size);
    }
  }
  if (changed) publishLocked();
  return ApiReply{200, backendJson(*pool, backend)};
}

void Controller::publishLocked() {
  ++current_.version;
  if (hooks_.publish) hooks_.publish(std::make_shared<const control::AdminSnapshot>(current_));
}

}  // namespace l4lb::admin
