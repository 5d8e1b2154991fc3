#include "health/health_checker.h"

#include <time.h>

#include <type_traits>

#include "base/log.h"
#include "control/health_verdicts.h"

namespace l4lb::health {

namespace {

// How far checks of many backends are spread: each interval is drawn from +-10% of the
// configured one, so checks started together do not stay in step.
constexpr std::uint64_t kJitterPercent = 10;

std::uint64_t splitMix(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

}  // namespace

HealthChecker::HealthChecker(const config::Config& config, Publish publish, Report report,
                             AgentSink agent_sink)
    : config_(config),
      publish_(std::move(publish)),
      report_(std::move(report)),
      agent_sink_(std::move(agent_sink)) {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  random_state_ ^= static_cast<std::uint64_t>(ts.tv_nsec);
}

HealthChecker::~HealthChecker() {
  stop();
  probes_.clear();
  datagram_probes_.clear();
  agent_probes_.clear();
}

bool HealthChecker::wanted(const config::Config& config) {
  for (const auto& pool : config.pools) {
    if (pool.health || pool.agent) return true;
  }
  return false;
}

base::Result<void> HealthChecker::init() {
  auto loop = io::EventLoop::create();
  if (!loop) return loop.error().within("health checks");
  loop_ = std::move(loop.value());
  states_ = control::uncheckedSnapshot(config_, states_.version);
  first_probe_.assign(config_.pools.size(), 0);
  agent_last_.assign(config_.pools.size(), {});
  agent_zeroed_.assign(config_.pools.size(), {});
  for (std::uint32_t p = 0; p < config_.pools.size(); ++p) {
    const auto& pool = config_.pools[p];
    agent_last_[p].resize(pool.backends.size());
    agent_zeroed_[p].resize(pool.backends.size());
    for (std::uint32_t b = 0; pool.agent && b < pool.backends.size(); ++b) {
      if (pool.backends[b].agent) {
        agent_probes_.push_back(std::make_unique<AgentProbe>(*this, *loop_, p, b, pool));
      }
    }
    // A pool's backends are all stream or all datagram (the config checks).
    const bool stream = pool.backends.empty() || pool.backends[0].address.isStream();
    first_probe_[p] = stream ? probes_.size() : datagram_probes_.size();
    if (!pool.health) continue;
    for (std::uint32_t b = 0; b < pool.backends.size(); ++b) {
      if (pool.backends[b].address.isStream()) {
        probes_.push_back(std::make_unique<Probe>(*this, *loop_, p, b, pool));
      } else {
        datagram_probes_.push_back(std::make_unique<DatagramProbe>(*this, *loop_, p, b, pool));
      }
    }
  }
  return {};
}

void HealthChecker::seed(const control::HealthSnapshot& carried) {
  for (std::uint32_t p = 0; p < config_.pools.size() && p < carried.pools.size(); ++p) {
    const auto& pool = config_.pools[p];
    const std::size_t n = pool.backends.size();
    if (states_.pools[p].size() != n || carried.pools[p].size() != n ||
        carried.changes[p].size() != n || carried.checks[p].size() != n ||
        carried.agents[p].size() != n) {
      continue;
    }
    states_.pools[p] = carried.pools[p];
    states_.changes[p] = carried.changes[p];
    states_.checks[p] = carried.checks[p];
    states_.agents[p] = carried.agents[p];
    for (std::uint32_t b = 0; pool.health && b < n; ++b) {
      const control::BackendState state = carried.checks[p][b];
      if (state == control::BackendState::kUnknown) continue;
      if (pool.backends[b].address.isStream()) {
        if (auto& probe = probes_[first_probe_[p] + b]) probe->seed(state);
      } else {
        if (auto& probe = datagram_probes_[first_probe_[p] + b]) probe->seed(state);
      }
    }
  }
  std::lock_guard lock(latest_mutex_);
  latest_ = std::make_shared<const control::HealthSnapshot>(states_);
}

std::shared_ptr<const control::HealthSnapshot> HealthChecker::latest() const {
  std::lock_guard lock(latest_mutex_);
  return latest_;
}

std::int64_t HealthChecker::jitteredInterval(base::Duration interval) {
  const auto ms = static_cast<std::uint64_t>(interval.count());
  const std::uint64_t spread = ms * kJitterPercent / 100;
  if (spread == 0) return static_cast<std::int64_t>(ms);
  return static_cast<std::int64_t>(ms - spread + splitMix(random_state_) % (2 * spread + 1));
}

void HealthChecker::start() {
  thread_ = std::thread([this] {
    // The first checks go out at once, spread over a few milliseconds: until a backend's first
    // verdict it is not picked.
    for (auto& probe : probes_) {
      if (probe)
        probe->start(loop_->now() + static_cast<std::int64_t>(splitMix(random_state_) % 20));
    }
    for (auto& probe : datagram_probes_) {
      if (probe)
        probe->start(loop_->now() + static_cast<std::int64_t>(splitMix(random_state_) % 20));
    }
    for (auto& probe : agent_probes_) {
      probe->start(loop_->now() + static_cast<std::int64_t>(splitMix(random_state_) % 20));
    }
    loop_->run();
  });
}

void HealthChecker::stop() {
  if (!thread_.joinable()) return;
  loop_->post([this] { loop_->stop(); });
  thread_.join();
}

void HealthChecker::setPaused(std::uint32_t pool, std::uint32_t backend, bool paused) {
  if (!loop_ || pool >= config_.pools.size() || !config_.pools[pool].health) return;
  loop_->post([this, pool, backend, paused] {
    const auto& pool_config = config_.pools[pool];
    // A probe is dropped and made anew rather than told to wait: destroying one cancels its
    // timer and closes a check in flight, and a new one starts with a check at once.
    auto toggle = [&](auto& probe) {
      using ProbeType = typename std::remove_reference_t<decltype(probe)>::element_type;
      if (paused == (probe == nullptr)) return;
      if (paused) {
        probe.reset();
        base::logInfo("pool \"{}\" backend {}: active checks paused (disabled)", pool_config.name,
                      pool_config.backends[backend].name);
      } else {
        probe = std::make_unique<ProbeType>(*this, *loop_, pool, backend, pool_config);
        probe->start(loop_->now());
        base::logInfo("pool \"{}\" backend {}: active checks resumed", pool_config.name,
                      pool_config.backends[backend].name);
      }
    };
    if (pool_config.backends[backend].address.isStream()) {
      toggle(probes_[first_probe_[pool] + backend]);
    } else {
      toggle(datagram_probes_[first_probe_[pool] + backend]);
    }
  });
}

void HealthChecker::onChecked(std::uint32_t pool, std::uint32_t backend, bool up,
                              const std::string& reason, std::int64_t not_after) {
  const std::int64_t now_ms = control::wallClockMillis();
  if (report_) {
    report_(pool, backend,
            control::CheckResult{
                .up = up, .reason = reason, .unix_ms = now_ms, .certificate_not_after = not_after});
  }
  const auto& health = *config_.pools[pool].health;
  const std::int64_t left_s = not_after - now_ms / 1000;
  if (not_after != 0 && left_s * 1000 < health.expiry_warning.count()) {
    // Once a day per backend: the warning is for a person, the metric for the alerting.
    std::int64_t& logged = expiry_logged_[{pool, backend}];
    if (logged == 0 || now_ms - logged >= 24LL * 3600 * 1000) {
      logged = now_ms;
      base::logWarn("pool \"{}\" backend {}: its TLS certificate expires in {} days ({} hours)",
                    config_.pools[pool].name, config_.pools[pool].backends[backend].name,
                    left_s / 86400, left_s / 3600);
    }
  }
}

void HealthChecker::onStateChange(std::uint32_t pool, std::uint32_t backend,
                                  control::BackendState before, control::BackendState after,
                                  const std::string& reason) {
  const auto& pool_config = config_.pools[pool];
  const auto& name = pool_config.backends[backend].name;
  const auto kind = config::checkKindName(pool_config.health->check);
  // A probe made anew when checks resume (setPaused) starts from unknown: its first verdict is
  // a change only if it differs from the checks' verdict before the pause.
  const control::BackendState checks_before = states_.checks[pool][backend];
  if (before == control::BackendState::kUnknown &&
      checks_before != control::BackendState::kUnknown && checks_before == after) {
    base::logInfo("pool \"{}\" backend {}: still {} ({} check: {})", pool_config.name, name,
                  control::backendStateName(after), kind, reason);
    return;
  }
  const control::BackendState shown = states_.pools[pool][backend];
  if (!control::setChecksVerdict(states_, pool, backend, after, reason,
                                 control::wallClockMillis())) {
    // Only the agent's "down" can hold a backend against its checks' verdict.
    base::logInfo("pool \"{}\" backend {}: its {} check says {} ({}), but it stays {}: {}",
                  pool_config.name, name, kind, control::backendStateName(after), reason,
                  control::backendStateName(shown),
                  control::agentReason(states_.agents[pool][backend]));
    publishStates();
    return;
  }
  transitions_.fetch_add(1, std::memory_order_relaxed);
  const auto message =
      fmt::format("pool \"{}\" backend {}: {} -> {} ({} check: {})", pool_config.name, name,
                  control::backendStateName(shown), control::backendStateName(after), kind, reason);
  if (after == control::BackendState::kDown) {
    base::logWarn("{}", message);
  } else {
    base::logInfo("{}", message);
  }
  publishStates();
}

void HealthChecker::publishStates() {
  ++states_.version;
  auto published = std::make_shared<const control::HealthSnapshot>(states_);
  {
    std::lock_guard lock(latest_mutex_);
    latest_ = published;
  }
  publish_(std::move(published));
}

void HealthChecker::applyAgentVerdict(std::uint32_t pool, std::uint32_t backend,
                                      const proto::AgentReport& report) {
  control::AgentVerdict verdict;
  verdict.state = *report.operational == proto::AgentOperational::kUp
                      ? control::BackendState::kUp
                      : control::BackendState::kDown;
  verdict.said = proto::agentOperationalName(*report.operational);
  if (!report.description.empty()) verdict.said += "#" + report.description;
  if (verdict == states_.agents[pool][backend]) return;
  const auto& pool_config = config_.pools[pool];
  const auto& name = pool_config.backends[backend].name;
  const control::BackendState shown = states_.pools[pool][backend];
  const std::string reason = control::agentReason(verdict);
  if (control::setAgentVerdict(states_, pool, backend, std::move(verdict),
                               control::wallClockMillis())) {
    transitions_.fetch_add(1, std::memory_order_relaxed);
    const control::BackendState now = states_.pools[pool][backend];
    const auto message =
        fmt::format("pool \"{}\" backend {}: {} -> {} ({})", pool_config.name, name,
                    control::backendStateName(shown), control::backendStateName(now), reason);
    if (now == control::BackendState::kDown) {
      base::logWarn("{}", message);
    } else {
      base::logInfo("{}", message);
    }
  } else if (states_.agents[pool][backend].state == control::BackendState::kUp &&
             shown != control::BackendState::kUp && pool_config.health) {
    // The agent's "up" never overrides the active checks.
    base::logInfo(
        "pool \"{}\" backend {}: its agent says up, but it stays {}: its {} check says {}",
        pool_config.name, name, control::backendStateName(shown),
        config::checkKindName(pool_config.health->check),
        control::backendStateName(states_.checks[pool][backend]));
  }
  publishStates();
}

void HealthChecker::onAgentReport(std::uint32_t pool, std::uint32_t backend,
                                  const proto::AgentReport& report) {
  std::string described = proto::describeAgentReport(report);
  std::string& last = agent_last_[pool][backend];
  if (described == last) return;
  last = described;
  const auto& pool_config = config_.pools[pool];
  const auto& name = pool_config.backends[backend].name;
  base::logInfo("pool \"{}\" backend {}: agent says {}", pool_config.name, name, described);
  // Up and down combine with the active checks here; weight and operator state go the admin
  // API's way.
  if (report.operational) applyAgentVerdict(pool, backend, report);
  proto::AgentReport applied = report;
  if (report.weight_percent) {
    std::uint8_t& zeroed = agent_zeroed_[pool][backend];
    if (*report.weight_percent > 0 && zeroed != 0 && !report.admin) {
      applied.admin = proto::AgentAdmin::kReady;
    }
    zeroed = *report.weight_percent == 0 ? 1 : 0;
  }
  if (agent_sink_ && (applied.weight_percent || applied.admin)) {
    agent_sink_(pool_config.name, name, applied);
  }
}

void HealthChecker::onAgentFailure(std::uint32_t pool, std::uint32_t backend,
                                   const std::string& reason) {
  std::string& last = agent_last_[pool][backend];
  std::string failed = "!" + reason;
  if (failed == last) return;
  last = std::move(failed);
  const auto& pool_config = config_.pools[pool];
  base::logWarn(
      "pool \"{}\" backend {}: no answer from its agent {} ({}); weight and state "
      "stay as they are",
      pool_config.name, pool_config.backends[backend].name,
      pool_config.backends[backend].agent->url, reason);
}

}  // namespace l4lb::health
