#include "app/supervisor.h"

#include <fmt/format.h>
#include <sched.h>
#include <signal.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <functional>
#include <future>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "admin/admin_server.h"
#include "admin/controller.h"
#include "admin/file_digest.h"
#include "app/privileges.h"
#include "app/self_upgrade.h"
#include "app/service_notify.h"
#include "app/serving_builder.h"
#include "app/socket_activation.h"
#include "app/upgrade_source.h"
#include "app/upgrade_steps.h"
#include "app/upgrade_target.h"
#include "base/fd.h"
#include "base/log.h"
#include "config/loader.h"
#include "health/health_checker.h"
#include "io/clock.h"
#include "net/endpoint.h"
#include "net/socket.h"
#include "proxy/access_log.h"
#include "proxy/datagram_stats.h"
#include "proxy/end_reason.h"
#include "worker/worker.h"

namespace l4lb::app {

unsigned defaultWorkerCount() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int count = CPU_COUNT(&set);
    if (count > 0) return static_cast<unsigned>(count);
  }
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<unsigned>(online) : 1U;
}

namespace {

// One run of l4lb: the workers, the health and admin threads, and the config they serve, which
// a reload (SIGHUP, or POST /api/v1/reload through the admin thread) replaces. Everything here
// runs on the main thread except where a comment says otherwise.
class Server {
 public:
  Server(std::shared_ptr<const proxy::Snapshot> snapshot, std::string config_path,
         std::string upgrade_from)
      : first_snapshot_(std::move(snapshot)),
        config_path_(std::move(config_path)),
        upgrade_from_(std::move(upgrade_from)) {}

  int run();

 private:
  [[nodiscard]] std::unique_ptr<health::HealthChecker> makeChecker(const config::Config& config);
  // `bind`: false when a binary upgrade takes over: the old process still holds the admin
  // sockets, and the API is bound once it has let them go.
  [[nodiscard]] bool startAdmin(const config::Config& config, unsigned worker_count, bool bind);
  // Stops accepting, and lets open connections finish within shutdown_grace.
  void beginDrain(std::int64_t now, const char* why);
  // Binary upgrade, old process (upgrade_hooks.cc): POST /api/v1/upgrade.
  admin::ReloadOutcome beginUpgrade();
  [[nodiscard]] UpgradeSourceHooks upgradeSourceHooks();
  // Binary upgrade, new process (upgrade_hooks.cc): takes the old process's listening sockets
  // into `shared` (per listener) and the workers, before they start. False: nothing taken.
  [[nodiscard]] bool takeListeners(UpgradeTarget& target, const config::Config& config,
                                   std::vector<base::Fd>& shared, std::string& error);
  // ... and once they serve: tells the old process, and takes its connections.
  void takeConnections(UpgradeTarget& target);
  // Loads the config file again and switches every worker to it, or changes nothing.
  admin::ReloadOutcome reload();
  // Switches every worker to `next` (from the file, or the running config with an API change),
  // or changes nothing. `done` begins the log line of a success ("reloaded FILE"), `change`
  // names it in a failure's ("reload").
  admin::ReloadOutcome apply(config::Config next, const std::string& done,
                             const std::string& change);
  // Admin thread: has the main thread run `job` (a reload or a config change) and waits.
  admin::ReloadOutcome onMainThread(std::function<admin::ReloadOutcome()> job);
  void serveRequests();
  void logTotals() const;

  std::shared_ptr<const proxy::Snapshot> first_snapshot_;
  std::string config_path_;   // empty: started from the command line, nothing to reload
  std::string upgrade_from_;  // the old process's admin socket, for a binary upgrade
  std::unique_ptr<UpgradeSource> upgrade_source_;  // while this process hands itself over
  SelfUpgrade self_upgrade_;                       // SIGUSR2
  bool upgrading_ = false;  // main thread: an upgrade out of this process is under way
  std::vector<std::string> taken_listeners_;            // new process: the listeners taken over
  SocketWorkers socket_workers_;                        // new process: who serves which socket
  std::vector<upgrade::BackendRecord> taken_backends_;  // new process: the old one's states
  std::vector<std::vector<std::vector<base::Fd>>> taken_sockets_;  // [worker][listener]
  std::shared_ptr<const worker::ServingConfig> serving_;
  std::unique_ptr<proxy::AccessLog> access_log_;
  std::vector<std::unique_ptr<worker::Worker>> workers_;
  std::vector<worker::Worker*> targets_;
  std::unique_ptr<admin::Controller> controller_;
  std::unique_ptr<admin::AdminServer> admin_server_;
  // The admin thread pauses checks through it while a reload may replace it.
  std::mutex checker_mutex_;
  std::unique_ptr<health::HealthChecker> checker_;
  struct Request {
    std::function<admin::ReloadOutcome()> job;
    std::promise<admin::ReloadOutcome> done;
  };
  std::mutex requests_mutex_;
  std::vector<Request> requests_;
  bool draining_ = false;
  bool aborted_ = false;
  std::int64_t drain_deadline_ = 0;
};

bool allFinished(const std::vector<std::unique_ptr<worker::Worker>>& workers) {
  for (const auto& w : workers) {
    if (!w->finished()) return false;
  }
  return true;
}

std::unique_ptr<health::HealthChecker> Server::makeChecker(const config::Config& config) {
  if (!health::HealthChecker::wanted(config)) return nullptr;
  admin::Controller* admin_view = controller_.get();
  auto targets = targets_;
  return std::make_unique<health::HealthChecker>(
      config, [targets, admin_view](std::shared_ptr<const control::HealthSnapshot> states) {
        if (admin_view) admin_view->onHealth(states);
        for (worker::Worker* w : targets) {
          w->loop().post([w, states] { w->applyHealth(states); });
        }
      });
}

bool Server::startAdmin(const config::Config& config, unsigned worker_count, bool bind) {
  if (config.admin.listen.empty()) return true;
  admin::StartInfo info{.version = L4LB_VERSION,
                        .workers = worker_count,
                        .config_sha256 = admin::fileSha256(config.source),
                        .started_ms = io::monotonicMillis()};
  admin::ControllerHooks hooks;
  auto targets = targets_;
  hooks.publish = [targets](std::shared_ptr<const control::AdminSnapshot> change) {
    for (worker::Worker* w : targets) {
      w->loop().post([w, change] { w->applyAdmin(change); });
    }
  };
  hooks.pause_checks = [this](std::uint32_t pool, std::uint32_t backend, bool paused) {
    std::lock_guard lock(checker_mutex_);
    if (checker_) checker_->setPaused(pool, backend, paused);
  };
  hooks.totals = [targets](std::string_view pool, std::string_view backend) {
    admin::BackendTotals totals;
    for (const worker::Worker* w : targets) {
      const auto view = w->backendCounters(pool, backend);
      if (view.counters == nullptr) continue;
      totals.active += view.counters->active.get();
      totals.total += view.counters->total.get();
      totals.failures += view.counters->failures.get();
      totals.bytes_in += view.counters->bytes_to_backend.get();
      totals.bytes_out += view.counters->bytes_from_backend.get();
    }
    return totals;
  };
  hooks.metrics = [targets](admin::MetricsSample& sample) {
    for (const worker::Worker* w : targets) w->addMetrics(sample);
  };
  hooks.reload = [this] {
    return onMainThread(
        [this] { return ServiceNotify::around("reloading (API)", [this] { return reload(); }); });
  };
  hooks.apply_config = [this](config::Config next, std::string what) {
    return onMainThread([this, next = std::move(next), what = std::move(what)]() mutable {
      return ServiceNotify::around(what, [&] { return apply(std::move(next), what, what); });
    });
  };
  hooks.upgrade = [this] { return onMainThread([this] { return beginUpgrade(); }); };
  controller_ = std::make_unique<admin::Controller>(config, std::move(info), std::move(hooks));
  admin_server_ = std::make_unique<admin::AdminServer>(config.admin, *controller_);
  std::string error;
  if (bind && !admin_server_->bind(error)) {
    base::logError("{}", error);
    return false;
  }
  return true;
}

int Server::run() {
  const auto& config = first_snapshot_->config;
  base::setLogLevel(config.global.log_level);

  // Signals are taken synchronously by this thread alone; workers never see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGUSR1);
  sigaddset(&signals, SIGUSR2);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  auto access_log = proxy::AccessLog::open(config.global.access_log);
  if (!access_log) {
    base::logError("global.access_log \"{}\": {}", config.global.access_log,
                   access_log.error().message());
    return 1;
  }
  access_log_ = std::make_unique<proxy::AccessLog>(std::move(access_log.value()));

  std::string error;
  const unsigned worker_count =
      config.global.workers != 0 ? config.global.workers : defaultWorkerCount();
  auto activated = takeActivatedSockets(config, error);
  if (!activated) {
    base::logError("{}", error);
    return 1;
  }
  // A binary upgrade takes the old process's listening sockets before anything is bound here.
  std::optional<UpgradeTarget> target;
  std::vector<base::Fd> shared_taken;
  if (!upgrade_from_.empty()) {
    target.emplace();
    taken_sockets_.resize(worker_count);
    if (!takeListeners(*target, config, shared_taken, error)) {
      base::logError("upgrade from {} failed, the running l4lb goes on serving: {}", upgrade_from_,
                     error);
      return 1;
    }
  }
  serving_ = buildServing(first_snapshot_, nullptr, error, &*activated, &shared_taken);
  if (!serving_) {
    base::logError("{}", error);
    return 1;
  }
  for (unsigned i = 0; i < worker_count; ++i) {
    workers_.push_back(std::make_unique<worker::Worker>(i, serving_, *access_log_));
    workers_.back()->setWorkerCount(worker_count);
    if (i < taken_sockets_.size()) {
      workers_.back()->adoptListeningSockets(std::move(taken_sockets_[i]));
    }
    if (!workers_.back()->init(error)) {
      base::logError("{}", error);
      return 1;
    }
    targets_.push_back(workers_.back().get());
  }
  for (const auto& listener : config.listeners) {
    // unixgram:// and mq:// listeners are served by worker 0 alone (worker/worker.h).
    const bool one_worker = listener.isDatagram() && listener.bind.kind != net::EndpointKind::kUdp;
    base::logInfo("listener \"{}\" listening on {} (pool \"{}\", workers: {})", listener.name,
                  listener.bind.url, listener.pool, one_worker ? 1U : worker_count);
  }
  // The admin API: its own threads; an operator's change reaches every worker as a posted
  // snapshot. Active health checks run on a thread of their own, and reach workers the same way.
  if (!startAdmin(config, worker_count, /*bind=*/!target)) return 1;
  // Every socket is bound (but a binary upgrade's admin API); no thread runs yet.
  if (!dropPrivileges(config, error)) {
    base::logError("{}", error);
    return 1;
  }
  checker_ = makeChecker(config);
  // A binary upgrade starts from the old process's health states, as a reload does.
  std::shared_ptr<const control::HealthSnapshot> carried;
  if (target && checker_) {
    carried = std::make_shared<const control::HealthSnapshot>(
        upgrade::takenHealth(taken_backends_, config));
  }
  if (checker_) {
    if (!checker_->init(error)) {
      base::logError("{}", error);
      return 1;
    }
    if (carried) {
      checker_->seed(*carried);
      if (controller_) controller_->onHealth(carried);
    }
    checker_->start();
  }
  if (carried) {
    for (auto& w : workers_) w->applyHealth(carried);  // before their threads start
  }
  if (target && controller_) applyTakenAdminStates(*controller_, taken_backends_);
  for (auto& w : workers_) w->start();
  if (target) {
    takeConnections(*target);  // binds and starts the admin API once the old one let go
  } else if (admin_server_) {
    admin_server_->start();
  }
  ServiceNotify::ready(fmt::format("serving {} listener{} on {} worker{}", config.listeners.size(),
                                   config.listeners.size() == 1 ? "" : "s", worker_count,
                                   worker_count == 1 ? "" : "s"));

  while (!(draining_ && allFinished(workers_))) {
    timespec wait{0, 100'000'000};
    int signal_number = sigtimedwait(&signals, nullptr, &wait);
    std::int64_t now = io::monotonicMillis();
    const auto& global = serving_->config().global;
    if (signal_number == SIGTERM || signal_number == SIGINT) {
      if (!draining_) {
        ServiceNotify::stopping("stopping: waiting for open connections");
        beginDrain(now, signal_number == SIGTERM ? "received SIGTERM" : "received SIGINT");
      } else if (!aborted_) {
        base::logInfo("second signal: closing open connections now");
        drain_deadline_ = now;
      }
    } else if (signal_number == SIGUSR2) {
      std::string upgrade_error;
      if (draining_ || upgrading_) {
        base::logWarn("SIGUSR2: {}, not starting a new binary",
                      draining_ ? "shutting down" : "an upgrade is under way");
      } else if (!self_upgrade_.start(config_path_, serving_->config(), upgrade_error)) {
        base::logError("SIGUSR2: no binary upgrade: {}", upgrade_error);
      }
    } else if (signal_number == SIGUSR1) {
      auto reopened = access_log_->reopen();
      if (!reopened) {
        base::logError("SIGUSR1: access log \"{}\" not reopened, still writing to the old file: {}",
                       global.access_log, reopened.error().message());
      } else if (reopened.value()) {
        base::logInfo("SIGUSR1: access log \"{}\" reopened", global.access_log);
      }
    } else if (signal_number == SIGHUP) {
      base::logInfo("SIGHUP: reloading {}", config_path_.empty() ? "(no file)" : config_path_);
      (void)ServiceNotify::around("reloading (SIGHUP)", [this] { return reload(); });
    }
    serveRequests();
    self_upgrade_.poll();
    if (draining_ && !aborted_ && now >= drain_deadline_) {
      aborted_ = true;
      base::logInfo("shutdown grace over: closing remaining connections");
      for (auto& w : workers_) w->abortAll();
    }
  }
  for (auto& w : workers_) w->join();
  if (upgrade_source_) {
    // Its last step waits for this thread: serve it until it has ended.
    while (upgrade_source_->running()) {
      serveRequests();
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    upgrade_source_->join();
  }
  if (admin_server_) admin_server_->stop();
  serveRequests();  // answers any the admin thread left before it stopped
  {
    std::lock_guard lock(checker_mutex_);
    if (checker_) {
      checker_->stop();
      base::logInfo("health: {} backend state changes", checker_->transitions());
    }
  }
  logTotals();
  return 0;
}

admin::ReloadOutcome Server::beginUpgrade() {
  auto refuse = [](std::string message) {
    return admin::ReloadOutcome{.ok = false, .message = std::move(message), .warnings = {}};
  };
  if (draining_) return refuse("shutting down");
  if (upgrading_) return refuse("an upgrade is under way already");
  // The handoff socket goes beside the first unix:// admin socket, with the same access.
  std::string path = unixAdminPath(serving_->config());
  if (path.empty()) return refuse("no unix:// admin socket to put the handoff socket beside");
  path += fmt::format(".upgrade-{}", ::getpid());
  if (upgrade_source_) upgrade_source_->join();  // an earlier one that failed
  upgrade::Hello hello{.protocol = upgrade::kProtocolVersion,
                       .pid = static_cast<std::uint32_t>(::getpid()),
                       .version = L4LB_VERSION,
                       .config_digest = admin::fileSha256(serving_->config().source)};
  upgrade_source_ = std::make_unique<UpgradeSource>(upgradeSourceHooks(), std::move(hello));
  std::string error;
  if (!upgrade_source_->start(path, error)) {
    upgrade_source_.reset();
    return refuse("cannot open the handoff socket: " + error);
  }
  upgrading_ = true;
  base::logInfo("upgrade: waiting for the new process on {}", path);
  return admin::ReloadOutcome{.ok = true, .message = path, .warnings = {}};
}

UpgradeSourceHooks Server::upgradeSourceHooks() {
  // Each runs on this (the main) thread, which owns the workers and the serving config.
  auto main = [this](auto job) {
    (void)onMainThread([job]() mutable {
      job();
      return admin::ReloadOutcome{.ok = true, .message = {}, .warnings = {}};
    });
  };
  UpgradeSourceHooks hooks;
  hooks.backend_states = [this, main] {
    std::vector<upgrade::BackendRecord> records;
    main([&] {
      std::shared_ptr<const control::HealthSnapshot> latest;
      {
        std::lock_guard lock(checker_mutex_);
        if (checker_) latest = checker_->latest();
      }
      records = backendRecords(serving_->config(), latest.get(), controller_.get());
    });
    return records;
  };
  hooks.listener_sockets = [this, main] {
    std::vector<PassedSocket> sockets;
    main([&] { sockets = gatherListenerSockets(workers_, *serving_); });
    return sockets;
  };
  hooks.set_accepting = [this, main](bool accepting) {
    main([&] { setAccepting(workers_, accepting); });
  };
  hooks.hand_off = [this, main](const std::vector<std::string>& listeners) {
    std::vector<HandedConnection> connections;
    main([&] { connections = handOffConnections(workers_, listeners); });
    return connections;
  };
  hooks.release_admin = [this, main] {
    main([&] {
      // The socket paths are the new process's now; the admin API's it binds after this.
      net::disownSocketPaths();
      if (admin_server_) admin_server_->stop();
    });
  };
  hooks.finished = [this, main](bool handed_over) {
    main([&] {
      upgrading_ = false;
      if (draining_) return;  // stopped meanwhile (a signal): nothing to start or resume
      if (handed_over) {
        beginDrain(io::monotonicMillis(), "upgrade done");
      } else {
        setAccepting(workers_, true);
      }
    });
  };
  return hooks;
}

bool Server::takeListeners(UpgradeTarget& target, const config::Config& config,
                           std::vector<base::Fd>& shared, std::string& error) {
  upgrade::Hello hello{.protocol = upgrade::kProtocolVersion,
                       .pid = static_cast<std::uint32_t>(::getpid()),
                       .version = L4LB_VERSION,
                       .config_digest = admin::fileSha256(config.source)};
  if (!target.connect(upgrade_from_, hello, error)) return false;
  std::vector<upgrade::ReceivedHandoff> received;
  if (!target.receiveListeners(received, taken_backends_, error)) return false;
  const std::size_t count = received.size();
  upgrade::TakenListeners taken = upgrade::placeListeners(
      std::move(received), config, static_cast<unsigned>(taken_sockets_.size()));
  for (const auto& dropped : taken.dropped) {
    base::logInfo(
        "upgrade: listener {} of the old process is not in this config; its socket "
        "closes",
        dropped);
  }
  base::logInfo("upgrade: took {} listening sockets from pid {} (l4lb {})", count,
                target.peer().pid, target.peer().version);
  shared = std::move(taken.shared);
  taken_sockets_ = std::move(taken.own);
  socket_workers_ = socketWorkers(taken_sockets_);
  taken_listeners_ = std::move(taken.names);
  return true;
}

void Server::takeConnections(UpgradeTarget& target) {
  std::string error;
  upgrade::Done done;
  std::size_t next_worker = 0;
  std::size_t taken = 0;
  bool ok = target.sendAdopted(taken_listeners_, error) &&
            target.receiveConnections(
                [&](upgrade::ReceivedHandoff connection) {
                  ++taken;
                  deliverConnection(workers_, socket_workers_, std::move(connection), next_worker);
                },
                done, error);
  if (ok) {
    base::logInfo("upgrade from pid {} done: serving {} listeners of it and {} connections",
                  target.peer().pid, done.listeners, taken);
  } else {
    // The listeners are served here either way; the old process serves on what it kept.
    base::logError("upgrade from pid {}: {} (after {} connections)", target.peer().pid, error,
                   taken);
  }
  if (!admin_server_) return;
  if (!admin_server_->bind(error)) {
    base::logError("upgrade: the admin API could not be bound: {}", error);
    return;
  }
  admin_server_->start();
}

void Server::beginDrain(std::int64_t now, const char* why) {
  const auto& global = serving_->config().global;
  draining_ = true;
  drain_deadline_ = now + global.shutdown_grace.count();
  base::logInfo("{}: no longer accepting; waiting up to {} for open connections", why,
                base::formatDuration(global.shutdown_grace));
  {
    std::lock_guard lock(checker_mutex_);
    if (checker_) checker_->stop();
  }
  for (auto& w : workers_) w->drain();
}

admin::ReloadOutcome Server::onMainThread(std::function<admin::ReloadOutcome()> job) {
  std::future<admin::ReloadOutcome> outcome;
  {
    std::lock_guard lock(requests_mutex_);
    requests_.push_back(Request{std::move(job), {}});
    outcome = requests_.back().done.get_future();
  }
  // The main thread looks every 100 ms; a reload takes well under a minute.
  if (outcome.wait_for(std::chrono::seconds(60)) != std::future_status::ready) {
    return admin::ReloadOutcome{
        .ok = false, .message = "the reload did not finish in 60 s", .warnings = {}};
  }
  return outcome.get();
}

void Server::serveRequests() {
  std::vector<Request> requests;
  {
    std::lock_guard lock(requests_mutex_);
    requests.swap(requests_);
  }
  for (auto& request : requests) request.done.set_value(request.job());
}

admin::ReloadOutcome Server::reload() {
  auto fail = [&](std::string message) {
    base::logError("reload failed, still serving the config before: {}", message);
    if (controller_) controller_->noteReload(false, message);
    return admin::ReloadOutcome{.ok = false, .message = std::move(message), .warnings = {}};
  };
  if (config_path_.empty()) {
    return fail("l4lb was started from the command line, with no config file to read again");
  }
  config::LoadResult loaded = config::loadConfigFile(config_path_);
  if (!loaded.ok()) {
    std::string message;
    for (const auto& error : loaded.errors) {
      if (!message.empty()) message += "\n";
      message += error.format();
    }
    return fail(message);
  }
  return apply(std::move(*loaded.config), "reloaded " + config_path_, "reload");
}

admin::ReloadOutcome Server::apply(config::Config next_config, const std::string& done,
                                   const std::string& change) {
  admin::ReloadOutcome outcome;
  auto fail = [&](std::string message) {
    base::logError("{} failed, still serving the config before: {}", change, message);
    outcome.ok = false;
    outcome.message = std::move(message);
    if (controller_) controller_->noteReload(false, outcome.message);
    return outcome;
  };
  if (draining_) return fail("shutting down");
  if (upgrading_) return fail("a binary upgrade is under way");
  const config::Config& running = serving_->config();
  outcome.warnings = keepRestartOnlySettings(running, next_config);
  for (const auto& warning : outcome.warnings) base::logWarn("reload: {} (kept)", warning);

  auto snapshot = proxy::Snapshot::build(std::move(next_config));
  const config::Config& next = snapshot->config;
  std::string error;
  std::vector<std::vector<base::Fd>> sockets;
  if (!bindNewListeners(next, running, static_cast<unsigned>(workers_.size()), sockets, error)) {
    return fail(error);
  }
  std::shared_ptr<const worker::ServingConfig> serving =
      buildServing(snapshot, serving_.get(), error);
  if (!serving) return fail(error);

  std::unique_ptr<health::HealthChecker> checker = makeChecker(next);
  if (checker && !checker->init(error)) return fail(error);

  // From here on nothing fails. Health: the new pools start from the states the old checks
  // reached; the old checker stops first, so nothing it publishes can reach a worker after the
  // switch.
  const std::shared_ptr<const worker::ServingConfig> previous = serving_;
  std::shared_ptr<const control::HealthSnapshot> carried;
  std::unique_ptr<health::HealthChecker> retired;
  {
    std::lock_guard lock(checker_mutex_);
    if (checker_) {
      checker_->stop();
      if (auto latest = checker_->latest()) {
        carried =
            std::make_shared<const control::HealthSnapshot>(carryHealth(running, *latest, next));
      }
      retired = std::move(checker_);
    }
  }
  if (!carried && checker) {
    carried = std::make_shared<const control::HealthSnapshot>(
        carryHealth(running, control::HealthSnapshot{}, next));
  }

  // The switch: every worker gets its order; the admin API's view moves in the same step, so
  // nothing it publishes afterwards can reach a worker before the order does.
  auto post = [&](std::shared_ptr<const control::AdminSnapshot> admin_states) {
    for (std::size_t w = 0; w < workers_.size(); ++w) {
      auto order = std::make_shared<worker::ServingOrder>();
      order->serving = serving;
      order->own_sockets = std::move(sockets[w]);
      order->health = carried;
      order->admin = admin_states;
      worker::Worker* target = workers_[w].get();
      target->loop().post([target, order] { target->reload(*order); });
    }
  };
  if (controller_) {
    controller_->rebase(next, admin::fileSha256(next.source), post);
  } else {
    post(nullptr);
  }
  const std::string changes = describeChanges(running, next);
  base::setLogLevel(next.global.log_level);
  serving_ = serving;  // the old one lives on in the workers' generations while they need it
  {
    std::lock_guard lock(checker_mutex_);
    checker_ = std::move(checker);
    if (checker_) {
      if (carried) {
        checker_->seed(*carried);
        if (controller_) controller_->onHealth(carried);
      }
      checker_->start();
      // Disabled backends keep their checks paused.
      if (controller_) {
        for (std::uint32_t p = 0; p < next.pools.size(); ++p) {
          for (std::uint32_t b = 0; b < next.pools[p].backends.size(); ++b) {
            if (controller_->stateOf(p, b) == control::AdminState::kDisabled) {
              checker_->setPaused(p, b, true);
            }
          }
        }
      }
    }
  }
  retired.reset();  // before `previous`, whose config it reads
  outcome.ok = true;
  outcome.message = fmt::format("{}: {}", done, changes);
  base::logInfo("{}", outcome.message);
  if (controller_) controller_->noteReload(true, outcome.message);
  return outcome;
}

void Server::logTotals() const {
  proxy::WorkerStats totals;
  for (const auto& w : workers_) totals.addFrom(w->stats());
  base::logInfo(
      "stopped after {} connections ({} bulk directions moved by splice; {} retried on another "
      "backend after one ended before answering; accepting held back {} times by "
      "max_connections; {} queued for a backend slot; {} routed by their ClientHello, {} not "
      "TLS on routing listeners; refused: {} by allow/deny, {} over per_source_max_connections, "
      "{} over per_source_rate, {} PROXY connections from untrusted sources)",
      totals.accepted.get(), totals.spliced.get(), totals.retried.get(),
      totals.accept_limited.get(), totals.queued.get(), totals.routed.get(), totals.not_tls.get(),
      totals.refused_acl.get(), totals.refused_source_connections.get(),
      totals.refused_source_rate.get(), totals.refused_proxy_untrusted.get());
  std::string ended;
  for (std::size_t r = 0; r < static_cast<std::size_t>(proxy::EndReason::kCount); ++r) {
    const std::uint64_t count = totals.ended[r].get();
    if (count == 0) continue;
    ended += fmt::format(" {}={}", proxy::endReasonName(static_cast<proxy::EndReason>(r)), count);
  }
  if (!ended.empty()) base::logInfo("connections ended by reason:{}", ended);
  bool any_datagram = false;
  for (const auto& listener : serving_->config().listeners) any_datagram |= listener.isDatagram();
  if (any_datagram) {
    proxy::DatagramStats datagrams;
    for (const auto& w : workers_) datagrams.addFrom(w->datagramStats());
    base::logInfo("datagram totals: {}", datagrams.summary());
  }
}

}  // namespace

int runServer(std::shared_ptr<const proxy::Snapshot> snapshot, std::string config_path,
              std::string upgrade_from) {
  Server server(std::move(snapshot), std::move(config_path), std::move(upgrade_from));
  return server.run();
}

}  // namespace l4lb::app
