#include "admin/controller.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <ctime>
#include <utility>
#include <variant>

#include "admin/state_file.h"
#include "base/log.h"
#include "config/limits.h"
#include "io/clock.h"
#include "net/endpoint.h"
#include "proxy/balancer_plans.h"

namespace l4lb::admin {

namespace {

using nlohmann::json;

std::string_view endpointKindName(const net::Endpoint& endpoint) {
  return endpoint.isStream() ? "stream" : "datagram";
}

// "2026-12-05T07:01:02.345Z" (UTC) for a wall-clock time in milliseconds.
std::string isoTime(std::int64_t unix_ms) {
  const std::time_t seconds = static_cast<std::time_t>(unix_ms / 1000);
  std::tm utc{};
  gmtime_r(&seconds, &utc);
  char text[32];
  const std::size_t length = std::strftime(text, sizeof(text), "%Y-%m-%dT%H:%M:%S", &utc);
  return fmt::format("{}.{:03}Z", std::string_view(text, length), unix_ms % 1000);
}

// "at" and "seconds_ago" of an event at `unix_ms` (0: its time is not known, both null).
void stamp(json& out, std::int64_t unix_ms, std::int64_t now_ms) {
  if (unix_ms == 0) {
    out["at"] = nullptr;
    out["seconds_ago"] = nullptr;
    return;
  }
  out["at"] = isoTime(unix_ms);
  out["seconds_ago"] = std::max<std::int64_t>(0, now_ms - unix_ms) / 1000;
}

json checkJson(const control::CheckResult& check, std::int64_t now_ms) {
  if (check.unix_ms == 0) return nullptr;
  json out{{"result", check.up ? "ok" : "failed"}, {"reason", check.reason}};
  stamp(out, check.unix_ms, now_ms);
  if (check.certificate_not_after != 0) {
    out["certificate_expires"] = isoTime(check.certificate_not_after * 1000);
    out["certificate_days_left"] = (check.certificate_not_after * 1000 - now_ms) / 86'400'000;
  }
  return out;
}

json changeJson(const control::StateChange& change, std::int64_t now_ms) {
  if (change.reason.empty()) return nullptr;
  json out{{"from", control::backendStateName(change.from)},
           {"to", control::backendStateName(change.to)},
           {"reason", change.reason}};
  stamp(out, change.unix_ms, now_ms);
  return out;
}

// Each backend's last check, empty for the backends of unchecked pools.
std::vector<std::vector<control::CheckResult>> noChecks(const config::Config& config) {
  std::vector<std::vector<control::CheckResult>> checks;
  for (const auto& pool : config.pools) {
    checks.emplace_back(pool.health ? pool.backends.size() : 0);
  }
  return checks;
}

}  // namespace

ApiReply errorReply(int status, std::string message) {
  return ApiReply{status, json{{"error", std::move(message)}}};
}

Controller::Controller(const config::Config& config, StartInfo info, ControllerHooks hooks,
                       MaglevTables tables)
    : config_(&config),
      info_(std::move(info)),
      hooks_(std::move(hooks)),
      config_tables_(configTables(config, std::move(tables))) {
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
  last_checks_ = noChecks(*config_);
}

void Controller::rebase(
    const config::Config& config, std::string config_sha256,
    const std::function<void(std::shared_ptr<const control::AdminSnapshot>)>& apply,
    MaglevTables tables) {
  MaglevTables config_tables = configTables(config, std::move(tables));  // outside the lock
  std::lock_guard lock(mutex_);
  control::AdminSnapshot next;
  next.version = current_.version + 1;
  auto next_checks = noChecks(config);
  for (std::size_t n = 0; n < config.pools.size(); ++n) {
    const auto& pool = config.pools[n];
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
          if (pool.health && old_pool.health == pool.health && o < last_checks_[p].size()) {
            next_checks[n][b] = last_checks_[p][o];
          }
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
  config_tables_ = std::move(config_tables);
  last_checks_ = std::move(next_checks);
  config_ = &config;
  info_.config_sha256 = std::move(config_sha256);
  health_.reset();  // the next health snapshot is the new checker's
  apply(std::make_shared<const control::AdminSnapshot>(current_));
  saveStateLocked();  // backends added or removed, weights the file changed
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

void Controller::onChecked(std::uint32_t pool, std::uint32_t backend, control::CheckResult result) {
  std::lock_guard lock(mutex_);
  if (pool < last_checks_.size() && backend < last_checks_[pool].size()) {
    last_checks_[pool][backend] = std::move(result);
  }
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
                            // 1 for the config l4lb started with, +1 for each reload or API
                            // change applied since.
                            {"config_generation", 1 + reloads_ok_},
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

ApiReply Controller::sessions() const {
  if (!hooks_.sessions) return errorReply(400, "sessions are not available here");
  // Not under the lock: the workers answer on their own threads.
  bool complete = true;
  const std::vector<proxy::SessionView> views = hooks_.sessions(complete);
  json list = json::array();
  for (const auto& view : views) {
    list.push_back(json{{"id", std::to_string(view.id)},
                        {"listener", view.listener},
                        {"client", view.client},
                        {"backend", view.backend.empty() ? json(nullptr) : json(view.backend)},
                        {"state", view.state},
                        {"age_seconds", view.age_ms / 1000},
                        {"bytes_in", view.bytes_in},
                        {"bytes_out", view.bytes_out}});
  }
  return ApiReply{200, json{{"sessions", std::move(list)}, {"complete", complete}}};
}

ApiReply Controller::endSession(std::string_view id) {
  if (!hooks_.end_session) return errorReply(400, "sessions are not available here");
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(id.data(), id.data() + id.size(), value);
  if (error != std::errc() || end != id.data() + id.size() || id.empty()) {
    return errorReply(400, fmt::format("\"{}\" is not a session id (GET /api/v1/sessions "
                                       "lists them)",
                                       id));
  }
  if (!hooks_.end_session(value)) {
    return errorReply(404, fmt::format("no open session {}", id));
  }
  base::logInfo("session {}: ended (admin API)", id);
  return ApiReply{200, json{{"result", "ended"}, {"id", std::string(id)}}};
}

ApiReply Controller::listeners() const {
  std::lock_guard lock(mutex_);
  json list = json::array();
  for (const auto& listener : config_->listeners) {
    const auto state = listener_states_.find(listener.name);
    list.push_back(json{{"name", listener.name},
                        {"bind", listener.bind.url},
                        {"kind", endpointKindName(listener.bind)},
                        {"pool", listener.pool},
                        {"admin_state", adminStateName(state == listener_states_.end()
                                                           ? control::AdminState::kEnabled
                                                           : state->second)},
                        {"announce", listener.announce}});
  }
  return ApiReply{200, json{{"listeners", std::move(list)}}};
}

const control::StateChange* Controller::changeOf(std::uint32_t pool, std::uint32_t backend) const {
  if (!health_ || pool >= health_->changes.size() || backend >= health_->changes[pool].size()) {
    return nullptr;
  }
  return &health_->changes[pool][backend];
}

control::BackendState Controller::healthOf(std::uint32_t pool, std::uint32_t backend) const {
  const auto& pool_config = config_->pools[pool];
  if (!pool_config.health && !pool_config.agent) return control::BackendState::kUnknown;
  if (health_ && pool < health_->pools.size() && backend < health_->pools[pool].size()) {
    return health_->pools[pool][backend];
  }
  // Nothing published yet: an agent alone waits for nothing (control::uncheckedSnapshot).
  return pool_config.health ? control::BackendState::kUnknown : control::BackendState::kUp;
}

json Controller::backendJson(std::uint32_t pool, std::uint32_t backend) const {
  const auto& pool_config = config_->pools[pool];
  const auto& config = pool_config.backends[backend];
  const bool checked = pool_config.health.has_value();
  // An agent can take a backend down too: its pool's backends show a health of their own.
  const bool judged = checked || pool_config.agent.has_value();
  const std::int64_t now_ms = control::wallClockMillis();
  control::BackendState health = healthOf(pool, backend);
  json last_check = nullptr;
  json last_change = nullptr;
  json agent = nullptr;
  if (judged) {
    if (const auto* change = changeOf(pool, backend)) last_change = changeJson(*change, now_ms);
    if (health_ && pool < health_->agents.size() && backend < health_->agents[pool].size() &&
        !health_->agents[pool][backend].said.empty()) {
      agent = health_->agents[pool][backend].said;
    }
  }
  if (checked && pool < last_checks_.size() && backend < last_checks_[pool].size()) {
    last_check = checkJson(last_checks_[pool][backend], now_ms);
  }
  const control::AdminState admin = current_.states[pool][backend];
  json out{{"name", config.name},
           {"address", config.address.url},
           {"state", shownStateName(admin, health, judged)},
           {"admin_state", adminStateName(admin)},
           {"health", judged ? json(control::backendStateName(health)) : json(nullptr)},
           {"last_check", std::move(last_check)},
           {"last_change", std::move(last_change)},
           {"agent", std::move(agent)},
           {"weight", current_.weights[pool][backend]},
           {"backup", config.backup},
           // Where it comes from: the file (or the API's change of it), or a discover source.
           {"source", config.discovered_by.empty() ? std::string("config") : config.discovered_by}};
  if (config.role) out["role"] = proto::roleName(*config.role);  // the pool check's, overridden
  if (hooks_.totals) {
    const BackendTotals totals = hooks_.totals(config_->pools[pool].name, config.name);
    out["active"] = totals.active;
    out["total"] = totals.total;
    out["connect_failures"] = totals.connect_failures;
    out["resets"] = totals.resets;
    out["ejections"] = totals.ejections;
    out["bytes_in"] = totals.bytes_in;
    out["bytes_out"] = totals.bytes_out;
  }
  return out;
}

json Controller::poolJson(std::uint32_t pool, bool with_backends) const {
  const auto& config = config_->pools[pool];
  json out{{"name", config.name},
           {"balance", balance::algorithmName(config.balance)},
           {"kind", config.backends.empty()
                        ? (config.discover && config.discover->datagram ? "datagram" : "stream")
                        : endpointKindName(config.backends[0].address)},
           {"health_checks", config.health.has_value()},
           {"discover", config.discover ? json(config.discover->label()) : json(nullptr)}};
  if (config.discover && hooks_.discovery) {
    // The source's state: synced once, and why an answer is held or failing.
    for (const auto& status : hooks_.discovery()) {
      if (status.pool != config.name || status.label != config.discover->label()) continue;
      out["discovery"] = json{{"synced", status.synced},
                              {"state", status.state},
                              {"message", status.message},
                              {"backends", status.backends}};
      if (config.discover->kind == config::DiscoverKind::kEtcd) {
        out["discovery"]["revision"] = status.revision;
      }
    }
  }
  std::uint32_t available = 0;
  std::uint32_t failing = 0;
  json backends = json::array();
  std::optional<std::uint32_t> latest;  // the backend whose state changed last
  for (std::uint32_t b = 0; b < config.backends.size(); ++b) {
    json backend = backendJson(pool, b);
    if (backend["state"] == "up") ++available;
    if (backend["last_check"].is_object() && backend["last_check"]["result"] == "failed") {
      ++failing;
    }
    const auto* change = config.health || config.agent ? changeOf(pool, b) : nullptr;
    if (change != nullptr && !change->reason.empty() &&
        (!latest || change->unix_ms >= changeOf(pool, *latest)->unix_ms)) {
      latest = b;
    }
    if (with_backends) backends.push_back(std::move(backend));
  }
  out["backends_total"] = config.backends.size();
  out["backends_available"] = available;
  // Checked pools: how many backends failed their last check (up or not: a failure or two
  // under `fall` does not change the state), and the pool's last state change.
  out["checks_failing"] = config.health ? json(failing) : json(nullptr);
  json last_change = nullptr;
  if (latest) {
    last_change = changeJson(*changeOf(pool, *latest), control::wallClockMillis());
    last_change["backend"] = config.backends[*latest].name;
  }
  out["last_change"] = std::move(last_change);
  out["maglev"] = maglevJson(pool);
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
  // The packet path's numbers first, outside the lock: reading them takes the packet path's own
  // lock, which its updates hold while they ask this controller for states and weights.
  packet::PacketNumbers packet_numbers;
  if (hooks_.packet) packet_numbers = hooks_.packet();
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
      view.checked = pool.health.has_value() || pool.agent.has_value();
      view.health = healthOf(p, b);
      view.admin = current_.states[p][b];
      view.weight = current_.weights[p][b];
      if (p < last_checks_.size() && b < last_checks_[p].size()) {
        view.certificate_not_after = last_checks_[p][b].certificate_not_after;
      }
      views.push_back(view);
    }
    input.backends.push_back(std::move(views));
    const auto table = maglevTableOf(p);
    input.maglev_digests.push_back(table != nullptr ? maglevDigestText(*table) : std::string());
  }
  if (hooks_.metrics) hooks_.metrics(input.sample);
  if (hooks_.announce) input.announce = hooks_.announce();
  ApiReply reply;
  reply.content_type = std::string(kMetricsContentType);
  reply.text = renderMetrics(input);
  if (!packet_numbers.interfaces.empty()) reply.text += renderPacketMetrics(packet_numbers);
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
    base::logInfo("pool \"{}\" backend {}: {} -> {} ({})", pool_config.name,
                  pool_config.backends[backend].name, adminStateName(before),
                  adminStateName(*change.state), change.source);
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
    base::logInfo("pool \"{}\" backend {}: weight {} -> {} ({})", pool_config.name,
                  pool_config.backends[backend].name, before, *change.weight, change.source);
    if (pool_config.balance == balance::Algorithm::kMaglev) {
      // The table is rebuilt here, off the data path, and shared by every worker.
      current_.maglev_tables[*pool] = std::make_shared<const balance::MaglevTable>(
          proxy::balancerSlots(pool_config, current_.weights[*pool]),
          pool_config.maglev_table_size);
    }
  }
  if (changed) {
    publishLocked();
    saveStateLocked();
  }
  return ApiReply{200, backendJson(*pool, backend)};
}

void Controller::agentReport(std::string_view pool_name, std::string_view backend_name,
                             const proto::AgentReport& report) {
  BackendChange change;
  change.source = "agent";
  if (report.admin) {
    switch (*report.admin) {
      case proto::AgentAdmin::kReady: change.state = control::AdminState::kEnabled; break;
      case proto::AgentAdmin::kDrain: change.state = control::AdminState::kDraining; break;
      case proto::AgentAdmin::kMaint: change.state = control::AdminState::kDisabled; break;
    }
  }
  if (report.weight_percent) {
    std::uint32_t configured = 0;
    {
      std::lock_guard lock(mutex_);
      if (auto pool = findPool(pool_name)) {
        for (const auto& backend : config_->pools[*pool].backends) {
          if (backend.name == backend_name) configured = backend.weight;
        }
      }
    }
    if (configured == 0) return;  // gone in a reload since the agent was asked
    if (*report.weight_percent == 0) {
      if (!change.state) change.state = control::AdminState::kDraining;
    } else {
      const std::uint64_t weight = std::uint64_t{configured} * *report.weight_percent / 100;
      change.weight = static_cast<std::uint32_t>(
          std::clamp<std::uint64_t>(weight, 1, static_cast<std::uint64_t>(config::kMaxWeight)));
    }
  }
  (void)changeBackend(pool_name, backend_name, change);
}

void Controller::saveStateLocked() const {
  if (!hooks_.save_state) return;
  std::vector<SavedListener> listeners;
  for (const auto& [name, state] : listener_states_)
    listeners.push_back(SavedListener{name, state});
  hooks_.save_state(renderStateFile(*config_, current_, listeners));
}

void Controller::publishLocked() {
  ++current_.version;
  if (hooks_.publish) hooks_.publish(std::make_shared<const control::AdminSnapshot>(current_));
}

}  // namespace l4lb::admin
