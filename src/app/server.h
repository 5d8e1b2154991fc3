#pragma once

// The server behind runServer() (supervisor.h), app-internal. Its parts live in files of one
// job each: server.cc (its life, and the signals), server_reload.cc (reloads, through
// reload.h), admin_hooks.cc (the admin API's wiring), upgrade_hooks.cc (a binary upgrade, either
// side) and exit_report.cc (the totals logged at exit).

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "admin/admin_server.h"
#include "admin/controller.h"
#include "app/announcer.h"
#include "app/listener_sockets.h"
#include "app/reload.h"
#include "app/self_upgrade.h"
#include "app/signal_source.h"
#include "app/upgrade_source.h"
#include "app/upgrade_steps.h"
#include "app/upgrade_target.h"
#include "base/fd.h"
#include "config/discovered.h"
#include "discover/discovery_runner.h"
#include "io/event_loop.h"
#include "io/timer_queue.h"
#include "packet/packet_path.h"
#include "proxy/access_log.h"
#include "worker/serving_config.h"
#include "worker/worker.h"

namespace l4lb::app {

// One run of l4lb: the workers, the health and admin threads, and the config they serve, which
// a reload (SIGHUP, or POST /api/v1/reload through the admin thread) replaces. Everything here
// runs on the main thread, in its event loop, except where a comment says otherwise: other
// threads reach it by posting to that loop.
class Server {
 public:
  Server(config::Config config, std::string config_path, std::string upgrade_from);

  int run();

 private:
  // server.cc: start, serve, stop.
  [[nodiscard]] bool start();
  [[nodiscard]] bool openAccessLog(const config::Config& config);
  [[nodiscard]] base::Result<void> startWorkers(const config::Config& config, unsigned worker_count,
                                                std::vector<base::Fd>* activated,
                                                std::vector<base::Fd>* taken);
  // Each worker's socket of every tcp:// and udp:// listener that none was passed or handed
  // for, into taken_sockets_; not listening until start() has nothing left that can fail.
  [[nodiscard]] base::Result<void> bindWorkerListeners(const config::Config& config,
                                                       unsigned worker_count);
  void logListening(const config::Config& config, unsigned worker_count);
  // `taken_over`: a binary upgrade, whose checks start from the old process's states.
  [[nodiscard]] base::Result<void> startChecks(const config::Config& config, bool taken_over);
  // [global] state_file: the drain, disable and weights saved by the admin API before a restart
  // (`listeners_only`: a binary upgrade's, which took the backends' from the old process).
  void restoreSavedState(const config::Config& config, bool listeners_only = false);
  void onSignal(int signal_number);
  // Every kTick: what no event tells this thread (workers finished, the grace over, the
  // SIGUSR2 child exited).
  void onTick();
  // Stops accepting, and lets open connections finish within shutdown_grace.
  void beginDrain(std::int64_t now, const char* why);
  // SIGTERM, SIGINT: withdraws the VIPs and, if any was announced, serves on for withdraw_grace
  // before beginDrain (onTick); otherwise drains at once.
  void beginStop(std::int64_t now, const char* why);
  int finish();
  void stopAdmin();

  // server_reload.cc
  [[nodiscard]] std::unique_ptr<health::HealthChecker> makeChecker(const config::Config& config);
  // Loads the config file again and switches every worker to it, or changes nothing.
  admin::ReloadOutcome reload();
  // What reload() would change, changing nothing (main thread).
  admin::ReloadOutcome reloadDryRun();
  // Switches every worker to `next` (from the file, or the running config with an API change),
  // or changes nothing. `done` begins the log line of a success ("reloaded FILE"), `change`
  // names it in a failure's ("reload").
  admin::ReloadOutcome apply(config::Config next, const std::string& done,
                             const std::string& change);

  // admin_hooks.cc. `bind`: false when a binary upgrade takes over: the old process still holds
  // the admin sockets, and the API is bound once it has let them go.
  [[nodiscard]] bool startAdmin(const config::Config& config, unsigned worker_count, bool bind);
  // Admin thread: has the main thread run `job` (a reload or a config change) and waits.
  admin::ReloadOutcome onMainThread(std::function<admin::ReloadOutcome()> job);

  // upgrade_hooks.cc. Old process: POST /api/v1/upgrade.
  admin::ReloadOutcome beginUpgrade();
  [[nodiscard]] UpgradeSourceHooks upgradeSourceHooks();
  // New process: takes the old process's listening sockets into `shared` (per listener) and
  // the workers, before they start. False: nothing taken.
  [[nodiscard]] base::Result<void> takeListeners(UpgradeTarget& target,
                                                 const config::Config& config,
                                                 std::vector<base::Fd>& shared);
  // ... and once they serve: tells the old process, and takes its connections.
  void takeConnections(UpgradeTarget& target);

  // server_discovery.cc: backends found by DNS or etcd (README.md, "Discovery").
  // Asks each source once before the first config serves, so it starts with their backends.
  void discoverFirst();
  // Starts the discovery thread for the running config's sources, or restarts it when a reload
  // changed them (each gate going on from the set it had applied).
  void startDiscovery();
  void stopDiscovery();
  // Any thread (the admin API's): each running source's state.
  [[nodiscard]] std::vector<config::DiscoveryStatus> discoveryStatus();
  // Main thread: the pools of the served config whose discover source has had no
  // authoritative answer applied yet (an answer with backends applied, or an empty one), by
  // name, each with the source's state and message; what announcing waits for.
  [[nodiscard]] std::map<std::string, std::string, std::less<>> discoveryUnsynced();
  // Main thread: a settled change of `pool`'s discovered backends, applied as one generation.
  void onDiscovered(const std::string& pool, config::DiscoveredSet set);
  // `next` with the discovered backends of `sets` merged in (each generation keeps them); the
  // notes logged.
  static void mergeDiscovered(config::Config& next, const config::DiscoveredPools& sets);
  // discovered_, plus the first answers of the sources `next` names that have no set yet.
  [[nodiscard]] config::DiscoveredPools withNewSources(const config::Config& next) const;
  // server_announce.cc. `handed`: the old process's interface, in a binary upgrade.
  [[nodiscard]] base::Result<void> openAnnouncer(const config::Config& config, base::Fd handed);
  // Brings the VIPs' announcement up to date (each tick, and when health or an operator's state
  // changed).
  void updateAnnouncer(std::int64_t now);
  // From another thread: updateAnnouncer on the main thread, soon.
  void pokeAnnouncer();

  // server_packet.cc: the packet path (forward = "dsr" | "ipip" listeners, docs/packet-path.md).
  // Checks the interfaces and attaches the programs `config` needs; nothing else changes.
  [[nodiscard]] base::Result<void> preparePacketPath(const config::Config& config);
  // Serves the running config's packet-path listeners (after a start or a reload's commit).
  void configurePacketPath();
  // Health and the operator's changes into the maps (each tick, and when poked).
  void updatePacketPath();
  [[nodiscard]] packet::PacketSources packetSources();

  // exit_report.cc
  void logTotals() const;

  class Tick : public io::Timer {
   public:
    explicit Tick(Server* server) : server_(server) {}
    void onTimer() override { server_->onTick(); }

   private:
    Server* server_;
  };
  static constexpr std::int64_t kTickMillis = 100;

  config::Config first_config_;  // as loaded, for start(); serving_ has the running config
  std::string config_path_;      // empty: started from the command line, nothing to reload
  std::string upgrade_from_;     // the old process's admin socket, for a binary upgrade
  std::unique_ptr<io::EventLoop> loop_;
  std::unique_ptr<SignalSource> signals_;
  Tick tick_{this};
  std::unique_ptr<UpgradeSource> upgrade_source_;  // while this process hands itself over
  SelfUpgrade self_upgrade_;                       // SIGUSR2
  bool upgrading_ = false;                         // an upgrade out of this process is under way
  std::vector<std::string> taken_listeners_;       // new process: the listeners taken over
  SocketWorkers socket_workers_;                   // new process: who serves which socket
  std::vector<upgrade::BackendRecord> taken_backends_;  // new process: the old one's states
  // [worker][listener]: handed over by the old process, or bound at start, until init().
  std::vector<std::vector<std::vector<base::Fd>>> taken_sockets_;
  UnlistenedSockets unlistened_;  // bound at start, listening once start cannot fail
  std::shared_ptr<const worker::ServingConfig> serving_;
  std::unique_ptr<proxy::AccessLog> access_log_;
  std::vector<std::unique_ptr<worker::Worker>> workers_;
  std::vector<worker::Worker*> targets_;
  std::unique_ptr<admin::Controller> controller_;
  std::unique_ptr<admin::AdminServer> admin_server_;
  HealthChecks checks_;  // the admin thread pauses checks through it
  // The last good discovered set of each pool, merged into every generation (main thread).
  config::DiscoveredPools discovered_;
  std::unique_ptr<discover::DiscoveryRunner> discovery_;
  std::mutex discovery_mutex_;            // discovery_ as the admin thread reads its status
  std::unique_ptr<Announcer> announcer_;  // null: no [global] announce_interface
  // Made at start, kept through reloads; detaches its programs when destroyed (finish()).
  std::unique_ptr<packet::PacketPath> packet_;
  base::Fd handed_announce_fd_;  // new process: the old one's announce interface
  // ... and the listeners its operator drained or disabled, which come with the interface only:
  // without it (listener_states_taken_ false) they are read from the state file.
  std::vector<upgrade::ListenerAdminState> taken_listener_states_;
  bool listener_states_taken_ = false;
  bool withdrawing_ = false;  // stopping: VIPs withdrawn, serving for withdraw_grace
  std::int64_t withdraw_deadline_ = 0;
  std::string stop_reason_;
  bool draining_ = false;
  bool aborted_ = false;
  std::int64_t drain_deadline_ = 0;
};

}  // namespace l4lb::app
