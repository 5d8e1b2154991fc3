#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "admin/admin_state.h"
#include "admin/metrics_collector.h"
#include "balance/maglev_table.h"
#include "config/config.h"
#include "config/discovered.h"
#include "control/announce_state.h"
#include "control/health_snapshot.h"
#include "packet/packet_stats.h"
#include "proto/agent_reply.h"
#include "proxy/session_view.h"

namespace l4lb::admin {

// A backend's counters summed over the workers.
struct BackendTotals {
  std::uint64_t active = 0;
  std::uint64_t total = 0;
  std::uint64_t connect_failures = 0;
  std::uint64_t resets = 0;     // connected, then reset (or ended before its first answer)
  std::uint64_t ejections = 0;  // by a worker's passive health (eject_after)
  std::uint64_t bytes_in = 0;   // client -> backend
  std::uint64_t bytes_out = 0;  // backend -> client
};

// What a reload did: ok, or why not (the loader's errors, one per line).
struct ReloadOutcome {
  bool ok = false;
  std::string message;
  std::vector<std::string> warnings;  // changes that need a restart, and were not applied
  std::vector<std::string> changes;   // what the reload changed (or, dry, would change)
};

// What the admin API needs from the rest of l4lb, wired by app/ (admin/ knows no workers).
struct ControllerHooks {
  // Posts a new operator snapshot to every worker.
  std::function<void(std::shared_ptr<const control::AdminSnapshot>)> publish;
  // Pauses (true) or resumes the active checks of one backend.
  std::function<void(std::uint32_t pool, std::uint32_t backend, bool paused)> pause_checks;
  // Reads a backend's counters from every worker (relaxed atomics: no lock on the data path).
  // (By name: the workers may not have switched to a reloaded config yet.)
  std::function<BackendTotals(std::string_view pool, std::string_view backend)> totals;
  // Adds every worker's counters to a scrape of GET /metrics (relaxed atomics, as `totals`).
  std::function<void(MetricsSample&)> metrics;
  // Loads the config file again and switches to it (runs on the calling thread, waits).
  std::function<ReloadOutcome()> reload;
  // Loads the config file again and says what a reload would change; changes nothing.
  std::function<ReloadOutcome()> reload_dry_run;
  // Switches to `next` (the running config with a change of the API), as a reload does.
  std::function<ReloadOutcome(config::Config next, std::string what)> apply_config;
  // Binary upgrade: opens the socket a new process takes the listeners and connections over
  // from; the outcome's message is its path (docs/upgrade.md).
  std::function<ReloadOutcome()> upgrade;
  // Every worker's open stream connections, asked of each on its own thread; `complete` false
  // when a worker did not answer in time (its sessions are missing).
  std::function<std::vector<proxy::SessionView>(bool& complete)> sessions;
  // Ends the session `id` on its worker; false when there is none (it ended, or never was).
  std::function<bool(std::uint64_t id)> end_session;
  // [global] state_file: called with the file's new text after each change of a state or a
  // weight, and after a reload (admin/state_file.h); unset: nothing is kept.
  std::function<void(const std::string& text)> save_state;
  // The discover sources' states (README.md, "Discovery"); unset or empty: none run.
  std::function<std::vector<config::DiscoveryStatus>()> discovery;
  // Each listener with announce = true: announced or not, and why (app/announcer.h); unset: no
  // [global] announce_interface.
  std::function<std::vector<control::AnnounceView>()> announce;
  // An operator drained, disabled or enabled a listener (with its lock held: post, never wait).
  std::function<void()> listener_changed;
  // The packet path's counters and state (packet/packet_path.h); unset: no listener forwards
  // packets.
  std::function<packet::PacketNumbers()> packet;
};

struct StartInfo {
  std::string version;
  unsigned workers = 0;
  std::string config_sha256;    // of the config file's bytes; empty in quick mode
  std::int64_t started_ms = 0;  // monotonic
};

// A change asked for through PATCH .../backends/{name}.
struct BackendChange {
  std::optional<control::AdminState> state;
  std::optional<std::uint32_t> weight;
  std::string_view source = "admin API";  // who asked, for the log line
};

// The result of an API call: an HTTP status and the JSON body to send.
struct ApiReply {
  ApiReply() = default;
  ApiReply(int status_code, nlohmann::json json_body)
      : status(status_code), body(std::move(json_body)) {}

  int status = 200;
  nlohmann::json body;
  // When content_type is set: `text` is the body instead (GET /metrics).
  std::string content_type;
  std::string text;
};

// Per pool of a config: the Maglev table its plan built (proxy::maglevTables), null for the
// other algorithms.
using MaglevTables = std::vector<std::shared_ptr<const balance::MaglevTable>>;

// The admin API's state and answers: the operator's states and weights, the last health
// snapshot, and the views built from them. Thread-safe (one mutex, taken by the admin and
// health threads, never by a worker).
class Controller {
 public:
  // `tables`: those the workers serve `config` with, so the API digests and looks up the very
  // tables in use; a maglev pool without one (tests) gets its own, built as a plan builds it.
  Controller(const config::Config& config, StartInfo info, ControllerHooks hooks,
             MaglevTables tables = {});

  // The health thread's latest snapshot (called from its publish hook).
  void onHealth(std::shared_ptr<const control::HealthSnapshot> states);
  // One check's result (called from the checker's report hook, on the health thread; indexed
  // as the config served, which a reload changes only while no checker runs).
  void onChecked(std::uint32_t pool, std::uint32_t backend, control::CheckResult result);

  [[nodiscard]] ApiReply status() const;
  [[nodiscard]] ApiReply listeners() const;
  [[nodiscard]] ApiReply pools() const;
  [[nodiscard]] ApiReply pool(std::string_view name) const;
  // GET /api/v1/pools/{pool}/lookup?client=IP[:PORT]: the backend a new connection from
  // `client` gets now, in a maglev pool (admin/controller_maglev.cc).
  [[nodiscard]] ApiReply lookup(std::string_view pool, std::string_view client) const;
  // ... of a pool that serves a packet-path listener: the XDP program's table (lock held).
  [[nodiscard]] ApiReply packetLookup(std::uint32_t pool, const sockaddr* client,
                                      std::string_view client_text) const;
  // GET /metrics: the Prometheus text format (admin/metrics_collector.h).
  [[nodiscard]] ApiReply metrics() const;
  // GET /api/v1/dashboard: everything the dashboard's page shows, in one answer it polls
  // (admin/controller_dashboard.cc). `bearer`: changes through this listener need the token.
  [[nodiscard]] ApiReply dashboard(bool bearer) const;
  // POST /api/v1/reload.
  [[nodiscard]] ApiReply reload();
  // POST /api/v1/reload/dry-run: what a reload from the file would change, changing nothing.
  [[nodiscard]] ApiReply reloadDryRun();
  // POST /api/v1/upgrade (l4lb run --upgrade-from): {"socket": PATH} for the new process.
  [[nodiscard]] ApiReply upgrade();
  // POST /api/v1/pools/{pool}/backends: a backend added to the running config, applied as a
  // reload is (the config file is not changed: the next reload from it drops the backend).
  [[nodiscard]] ApiReply addBackend(std::string_view pool, std::string_view body);
  // DELETE /api/v1/pools/{pool}/backends/{name}: the backend leaves the running config; its
  // open connections finish (it drains), new ones go elsewhere.
  [[nodiscard]] ApiReply removeBackend(std::string_view pool, std::string_view backend);
  // GET /api/v1/sessions: the open stream connections of every worker.
  [[nodiscard]] ApiReply sessions() const;
  // DELETE /api/v1/sessions/{id}: ends one, resetting both sides.
  [[nodiscard]] ApiReply endSession(std::string_view id);
  [[nodiscard]] ApiReply changeBackend(std::string_view pool, std::string_view backend,
                                       const BackendChange& change);
  // An agent's new answer (the agent check; called on the health thread), applied as a PATCH
  // is: "ready" enables, "drain" drains, "maint" disables; "N%" sets the weight to N% of the
  // config's (at least 1), and "0%" drains as HAProxy's zero weight does (the health checker
  // turns the next weight above 0 into "ready" as well).
  void agentReport(std::string_view pool, std::string_view backend,
                   const proto::AgentReport& report);

  // PATCH /api/v1/listeners/{name} {"state": "drain" | "disable" | "enable"}: a drained or
  // disabled listener's VIP is withdrawn (the listener goes on accepting what still reaches it).
  [[nodiscard]] ApiReply changeListener(std::string_view listener, std::string_view body);
  // Whether the operator drained or disabled `listener` (any thread).
  [[nodiscard]] bool listenerWithdrawn(std::string_view listener) const;
  // The listeners drained or disabled, by name (a binary upgrade carries them over).
  [[nodiscard]] std::vector<std::pair<std::string, control::AdminState>> listenerStates() const;
  // A listener's state the process before this one had (a binary upgrade, or the state file:
  // `from` says which, for the log); unknown names and kEnabled change nothing. True when it
  // changed the listener.
  bool restoreListenerState(std::string_view listener, control::AdminState state,
                            std::string_view from);
  // GET /api/v1/announce.
  [[nodiscard]] ApiReply announce() const;
  // GET /api/v1/packet: the packet path's VIPs, backends and counters (admin/packet_api.cc).
  [[nodiscard]] ApiReply packet() const;
  // Its body (null without a packet path), also the dashboard's `packet`. Reads the programs'
  // maps through the hook: call without the lock held.
  [[nodiscard]] nlohmann::json packetJson() const;

  // State changes made so far.
  [[nodiscard]] std::uint64_t changes() const;

  // A reload: `config` replaces the one served (it must outlive this object or the next
  // rebase). The operator's states, and weights the file did not change, carry over to the
  // backends of the same pool, name and address; so does the last check's result, unless the
  // pool's check changed (it would be stale: none is shown until the new check answers).
  // `apply` gets the new snapshot while the lock is held, so no later change of the API can
  // reach a worker before it.
  // `tables` as for the constructor, those of `config`'s plans.
  void rebase(const config::Config& config, std::string config_sha256,
              const std::function<void(std::shared_ptr<const control::AdminSnapshot>)>& apply,
              MaglevTables tables = {});
  // The outcome of a reload, for GET /api/v1/status.
  void noteReload(bool ok, std::string message);
  // The operator's state of a backend of the current config.
  [[nodiscard]] control::AdminState stateOf(std::uint32_t pool, std::uint32_t backend) const;
  [[nodiscard]] std::uint32_t weightOf(std::uint32_t pool, std::uint32_t backend) const;

 private:
  [[nodiscard]] std::optional<std::uint32_t> findPool(std::string_view name) const;
  [[nodiscard]] nlohmann::json backendJson(std::uint32_t pool, std::uint32_t backend) const;
  [[nodiscard]] nlohmann::json poolJson(std::uint32_t pool, bool with_backends) const;
  // The table new connections of a maglev pool are balanced on now: the operator's weights' if
  // they were changed, else the config's; null for the other algorithms.
  [[nodiscard]] std::shared_ptr<const balance::MaglevTable> maglevTableOf(std::uint32_t pool) const;
  // {"table_size", "digest"} of a maglev pool; null for the others.
  [[nodiscard]] nlohmann::json maglevJson(std::uint32_t pool) const;
  // The config's tables: `tables` where given, else built here.
  [[nodiscard]] static MaglevTables configTables(const config::Config& config, MaglevTables tables);
  [[nodiscard]] const control::StateChange* changeOf(std::uint32_t pool,
                                                     std::uint32_t backend) const;
  // The backend's state as its checks and its agent judge it (unknown: neither judges it).
  [[nodiscard]] control::BackendState healthOf(std::uint32_t pool, std::uint32_t backend) const;
  void publishLocked();
  void saveStateLocked() const;

  const config::Config* config_;
  StartInfo info_;
  double start_time_seconds_ = 0;  // Unix time, for l4lb_start_time_seconds
  ControllerHooks hooks_;
  mutable std::mutex mutex_;
  std::mutex change_mutex_;  // one config change of the API at a time (held while it applies)
  control::AdminSnapshot current_;
  MaglevTables config_tables_;  // [pool]: the config's (current_.maglev_tables: the operator's)
  // The operator's state of each listener, by name (kept across reloads); absent: enabled.
  std::map<std::string, control::AdminState, std::less<>> listener_states_;
  std::shared_ptr<const control::HealthSnapshot> health_;
  // [pool][backend]: each backend's last check (unix_ms 0: none since start, or since a reload
  // changed its check); checked pools only.
  std::vector<std::vector<control::CheckResult>> last_checks_;
  std::uint64_t changes_ = 0;
  std::uint64_t reloads_ok_ = 0;
  std::uint64_t reloads_failed_ = 0;
  bool last_reload_ok_ = true;
  std::string last_reload_message_;
  std::int64_t last_reload_ms_ = 0;  // monotonic; 0: none yet
};

// {"error": message} with `status`.
[[nodiscard]] ApiReply errorReply(int status, std::string message);

// A Maglev table's digest as the API and metrics show it: 16 lowercase hex digits.
[[nodiscard]] std::string maglevDigestText(const balance::MaglevTable& table);

}  // namespace l4lb::admin
