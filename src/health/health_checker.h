#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "base/duration.h"
#include "base/result.h"
#include "config/config.h"
#include "health/agent_probe.h"
#include "health/datagram_probe.h"
#include "health/health_state.h"
#include "health/probe.h"
#include "io/event_loop.h"

namespace l4lb::health {

// The health-check thread: its own event loop running one Probe per backend of every pool that
// has a `health` table, and one AgentProbe per backend with an agent, off the workers' loops.
// A backend's state combines the checks' verdict with the agent's "up" or "down"
// (control/health_verdicts.h). Each change of a verdict is published as a new immutable
// control::HealthSnapshot through `publish` (which posts it to every worker; workers never wait
// on this thread and share nothing with it but that value); each change of the combined state
// is logged with its reason and counted.
class HealthChecker {
 public:
  using Publish = std::function<void(std::shared_ptr<const control::HealthSnapshot>)>;
  // Every check's result, changing the state or not (the admin API's "last check"); called on
  // the health thread, so it must be quick. The workers are not told: nothing changed for them.
  using Report =
      std::function<void(std::uint32_t pool, std::uint32_t backend, control::CheckResult)>;

  // Where an agent's new report goes (app/ applies it as the admin API's PATCH), by pool and
  // backend name. Called on the health thread, only when a backend's report differs from the
  // one before, so an operator's later change through the API stands until the agent changes
  // its answer.
  using AgentSink = std::function<void(std::string_view pool, std::string_view backend,
                                       const proto::AgentReport& report)>;

  HealthChecker(const config::Config& config, Publish publish, Report report = {},
                AgentSink agent_sink = {});
  ~HealthChecker();
  HealthChecker(const HealthChecker&) = delete;
  HealthChecker& operator=(const HealthChecker&) = delete;

  // True when some pool has active checks or an agent (otherwise there is no thread to start).
  [[nodiscard]] static bool wanted(const config::Config& config);

  [[nodiscard]] base::Result<void> init();
  // After init(), before start(): backends start from these states (indexed as this config,
  // carried over by a reload) instead of unknown, so a reload neither waits for first checks
  // nor logs changes that did not happen.
  void seed(const control::HealthSnapshot& carried);
  // The states as last published (any thread).
  [[nodiscard]] std::shared_ptr<const control::HealthSnapshot> latest() const;
  void start();
  // Thread-safe: stops the checks and joins the thread.
  void stop();

  // Thread-safe (the admin API): stops or resumes the active checks of one backend (a disabled
  // backend is not checked). The state it had is kept while paused; checks resume at once.
  void setPaused(std::uint32_t pool, std::uint32_t backend, bool paused);

  // Called by probes on the health thread: each check's result, then (when it changed the
  // state) the change.
  // `not_after`: an https check's verified certificate's end (Unix seconds), 0 for other checks.
  void onChecked(std::uint32_t pool, std::uint32_t backend, bool up, const std::string& reason,
                 std::int64_t not_after = 0);
  void onStateChange(std::uint32_t pool, std::uint32_t backend, control::BackendState before,
                     control::BackendState after, const std::string& reason);
  [[nodiscard]] std::int64_t jitteredInterval(base::Duration interval);
  // Called by agent probes on the health thread: an answer, or why there was none.
  void onAgentReport(std::uint32_t pool, std::uint32_t backend, const proto::AgentReport& report);
  void onAgentFailure(std::uint32_t pool, std::uint32_t backend, const std::string& reason);

  // State changes so far (any thread): of the combined state.
  [[nodiscard]] std::uint64_t transitions() const {
    return transitions_.load(std::memory_order_relaxed);
  }

 private:
  // The agent's "up" or "down" (and its description) as its verdict, combined with the checks'.
  void applyAgentVerdict(std::uint32_t pool, std::uint32_t backend,
                         const proto::AgentReport& report);
  // states_, one version on, to latest_ and to publish_.
  void publishStates();

  const config::Config& config_;
  Publish publish_;
  Report report_;
  std::unique_ptr<io::EventLoop> loop_;
  std::vector<std::unique_ptr<Probe>> probes_;                   // null while paused
  std::vector<std::unique_ptr<DatagramProbe>> datagram_probes_;  // check = "dns"; null: paused
  std::vector<std::unique_ptr<AgentProbe>> agent_probes_;        // never paused
  AgentSink agent_sink_;
  // [pool][backend]: the agent's last answer (described), or "!" and why it failed; what is
  // logged and applied only when it changes.
  std::vector<std::vector<std::string>> agent_last_;
  // [pool][backend]: the agent's last weight was 0%, which drained the backend; its next
  // weight above 0 makes it ready again (HAProxy's zero weight is not a drain of its own).
  std::vector<std::vector<std::uint8_t>> agent_zeroed_;
  // [pool]: index of its first backend's probe in probes_ or datagram_probes_ (by its kind)
  std::vector<std::size_t> first_probe_;
  control::HealthSnapshot states_;
  mutable std::mutex latest_mutex_;
  std::shared_ptr<const control::HealthSnapshot> latest_;  // what publish_ was last given
  std::uint64_t random_state_ = 0x853c49e6748fea9bULL;
  std::atomic<std::uint64_t> transitions_{0};
  // [pool][backend]: when a certificate's coming end was last logged (wall ms), once a day each.
  std::map<std::pair<std::uint32_t, std::uint32_t>, std::int64_t> expiry_logged_;
  std::thread thread_;
};

}  // namespace l4lb::health
