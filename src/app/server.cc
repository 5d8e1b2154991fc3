#include "app/server.h"

#include <fmt/format.h>
#include <signal.h>

#include <thread>

#include "admin/state_file.h"
#include "app/privileges.h"
#include "app/service_notify.h"
#include "app/serving_builder.h"
#include "app/socket_activation.h"
#include "app/supervisor.h"
#include "base/log.h"
#include "io/clock.h"
#include "net/endpoint.h"

namespace l4lb::app {

namespace {

bool allFinished(const std::vector<std::unique_ptr<worker::Worker>>& workers) {
  for (const auto& w : workers) {
    if (!w->finished()) return false;
  }
  return true;
}

}  // namespace

Server::Server(config::Config config, std::string config_path, std::string upgrade_from)
    : first_config_(std::move(config)),
      config_path_(std::move(config_path)),
      upgrade_from_(std::move(upgrade_from)) {}

int Server::run() {
  base::setLogLevel(first_config_.global.log_level);
  auto loop = io::EventLoop::create();
  if (!loop) {
    base::logError("{}", loop.error().message());
    return 1;
  }
  loop_ = std::move(loop.value());
  // Before any other thread starts (signal_source.h).
  auto signals = SignalSource::open(*loop_, {SIGTERM, SIGINT, SIGHUP, SIGUSR1, SIGUSR2},
                                    [this](int signal_number) { onSignal(signal_number); });
  if (!signals) {
    base::logError("{}", signals.error().message());
    return 1;
  }
  signals_ = std::move(signals.value());
  ::signal(SIGPIPE, SIG_IGN);
  if (!start()) return 1;
  loop_->timers().schedule(&tick_, io::monotonicMillis() + kTickMillis);
  loop_->run();  // until drained (onTick)
  return finish();
}

bool Server::start() {
  discoverFirst();  // into first_config_, before anything is built from it
  const auto& config = first_config_;
  if (!openAccessLog(config)) return false;
  const unsigned worker_count =
      config.global.workers != 0 ? config.global.workers : defaultWorkerCount();
  auto activated = takeActivatedSockets(config);
  if (!activated) {
    base::logError("{}", activated.error().message());
    return false;
  }
  // A binary upgrade takes the old process's listening sockets before anything is bound here.
  std::optional<UpgradeTarget> target;
  std::vector<base::Fd> shared_taken;
  if (!upgrade_from_.empty()) {
    target.emplace();
    taken_sockets_.resize(worker_count);
    if (auto taken = takeListeners(*target, config, shared_taken); !taken) {
      base::logError("upgrade from {} failed, the running l4lb goes on serving: {}", upgrade_from_,
                     taken.error().message());
      return false;
    }
  }
  // The packet path's interfaces and programs, before anything serves (each failure says which
  // listener and interface).
  if (auto prepared = preparePacketPath(config); !prepared) {
    base::logError("{}", prepared.error().message());
    return false;
  }
  if (auto started = startWorkers(config, worker_count, &*activated, &shared_taken); !started) {
    base::logError("{}", started.error().message());
    return false;
  }
  if (!config.global.announce_interface.empty()) {
    if (auto opened = openAnnouncer(config, std::move(handed_announce_fd_)); !opened) {
      base::logError("{}", opened.error().message());
      return false;
    }
  }
  // The admin API: its own threads; an operator's change reaches every worker as a posted
  // snapshot. Active health checks run on a thread of their own, and reach workers the same way.
  if (!startAdmin(config, worker_count, /*bind=*/!target)) return false;
  if (controller_) {
    for (const auto& taken : taken_listener_states_) {
      (void)controller_->restoreListenerState(taken.listener,
                                              static_cast<control::AdminState>(taken.admin),
                                              "carried over by the binary upgrade");
    }
  }
  // Every socket is bound (but a binary upgrade's admin API); no thread runs yet.
  if (auto dropped = dropPrivileges(config); !dropped) {
    base::logError("{}", dropped.error().message());
    return false;
  }
  if (auto checking = startChecks(config, target.has_value()); !checking) {
    base::logError("{}", checking.error().message());
    return false;
  }
  configurePacketPath();
  // Nothing can fail any more: only now may a client connect (listener_sockets.h).
  if (auto listening = unlistened_.listenAll(); !listening) {
    base::logError("{}", listening.error().message());
    return false;
  }
  // From here on this process stays: an upgrade's XDP programs are its own (server_packet.cc).
  if (packet_) packet_->commit();
  logListening(config, worker_count);
  for (auto& w : workers_) w->start();
  startDiscovery();
  if (announcer_) {
    announcer_->setServing(true);
    updateAnnouncer(io::monotonicMillis());
  }
  if (target) {
    takeConnections(*target);  // binds and starts the admin API once the old one let go
  } else if (admin_server_) {
    admin_server_->start();
  }
  ServiceNotify::ready(fmt::format("serving {} listener{} on {} worker{}", config.listeners.size(),
                                   config.listeners.size() == 1 ? "" : "s", worker_count,
                                   worker_count == 1 ? "" : "s"));
  return true;
}

bool Server::openAccessLog(const config::Config& config) {
  const auto& global = config.global;
  auto access_log =
      global.access_log_syslog
          ? proxy::AccessLog::openSyslog(*global.access_log_syslog, global.access_log_facility,
                                         global.access_log_tag)
          : proxy::AccessLog::open(global.access_log);
  if (!access_log) {
    base::logError("global.access_log \"{}\": {}", config.global.access_log,
                   access_log.error().message());
    return false;
  }
  access_log_ = std::make_unique<proxy::AccessLog>(std::move(access_log.value()));
  return true;
}

base::Result<void> Server::startWorkers(const config::Config& config, unsigned worker_count,
                                        std::vector<base::Fd>* activated,
                                        std::vector<base::Fd>* taken) {
  // A copy of the loaded config: start() goes on reading that one.
  auto serving = buildServing(config, nullptr, unlistened_, activated, taken);
  if (!serving) return serving.error();
  serving_ = std::move(serving).value();
  if (auto bound = bindWorkerListeners(config, worker_count); !bound) return bound;
  for (unsigned i = 0; i < worker_count; ++i) {
    workers_.push_back(std::make_unique<worker::Worker>(i, serving_, *access_log_));
    workers_.back()->setWorkerCount(worker_count);
    if (i < taken_sockets_.size()) {
      workers_.back()->takeOverListeningSockets(std::move(taken_sockets_[i]));
    }
    if (auto ready = workers_.back()->init(); !ready) return ready;
    targets_.push_back(workers_.back().get());
  }
  return {};
}

void Server::logListening(const config::Config& config, unsigned worker_count) {
  for (const auto& listener : config.listeners) {
    if (listener.packetPath()) {
      base::logInfo(
          "listener \"{}\" forwards packets to {} on \"{}\" (forward = \"{}\", pool "
          "\"{}\"): XDP, no socket",
          listener.name, listener.bind.url, listener.interface,
          config::forwardName(listener.forward), listener.pool);
      continue;
    }
    // unixgram:// and mq:// listeners are served by worker 0 alone (worker/worker.h).
    const bool one_worker = listener.isDatagram() && listener.bind.kind != net::EndpointKind::kUdp;
    base::logInfo("listener \"{}\" listening on {} (pool \"{}\", workers: {})", listener.name,
                  listener.bind.url, listener.pool, one_worker ? 1U : worker_count);
  }
}

base::Result<void> Server::bindWorkerListeners(const config::Config& config,
                                               unsigned worker_count) {
  taken_sockets_.resize(worker_count);
  for (auto& per_worker : taken_sockets_) per_worker.resize(config.listeners.size());
  for (std::size_t i = 0; i < config.listeners.size(); ++i) {
    const auto& listener = config.listeners[i];
    const bool per_worker = (listener.bind.kind == net::EndpointKind::kTcp ||
                             listener.bind.kind == net::EndpointKind::kUdp) &&
                            !listener.packetPath();
    if (!per_worker || serving_->sharedFd(i) >= 0) continue;  // passed by the service manager
    // A binary upgrade's new process may have more workers than the old had sockets.
    std::vector<unsigned> without;
    for (unsigned w = 0; w < worker_count; ++w) {
      if (taken_sockets_[w][i].empty()) without.push_back(w);
    }
    if (without.empty()) continue;
    auto bound = bindWorkerSockets(listener, static_cast<unsigned>(without.size()), worker_count,
                                   unlistened_);
    if (!bound) return bound.error();
    for (std::size_t k = 0; k < without.size(); ++k) {
      taken_sockets_[without[k]][i].push_back(std::move(bound.value()[k]));
    }
  }
  return {};
}

base::Result<void> Server::startChecks(const config::Config& config, bool taken_over) {
  checks_.checker = makeChecker(config);  // no other thread runs yet
  // A binary upgrade starts from the old process's health states, as a reload does.
  std::shared_ptr<const control::HealthSnapshot> carried;
  if (taken_over && checks_.checker) {
    carried = std::make_shared<const control::HealthSnapshot>(
        upgrade::takenHealth(taken_backends_, config));
  }
  if (checks_.checker) {
    if (auto ready = checks_.checker->init(); !ready) return ready;
    if (carried) {
      checks_.checker->seed(*carried);
      if (controller_) controller_->onHealth(carried);
    }
    checks_.checker->start();
  }
  if (carried) {
    for (auto& w : workers_) w->applyHealth(carried);  // before their threads start
  }
  if (taken_over && controller_) {
    // An old process without an announce interface sent no listener states; it saved them.
    if (!listener_states_taken_ && !config.global.state_file.empty()) {
      restoreSavedState(config, /*listeners_only=*/true);
    }
    applyTakenAdminStates(*controller_, taken_backends_);
  } else if (controller_ && !config.global.state_file.empty()) {
    restoreSavedState(config);
  }
  return {};
}

void Server::restoreSavedState(const config::Config& config, bool listeners_only) {
  const std::string& path = config.global.state_file;
  auto saved = admin::readStateFile(path);
  if (!saved) {
    // Not fatal: l4lb serves as the config says; the next change of the API writes it anew.
    base::logWarn("global.state_file: not restored: {}", saved.error().message());
    return;
  }
  if (listeners_only) {
    const std::size_t restored = admin::restoreListeners(*controller_, saved->listeners);
    base::logInfo("global.state_file {}: {} of {} saved listener{} restored (drain, disable)", path,
                  restored, saved->listeners.size(), saved->listeners.size() == 1 ? "" : "s");
    return;
  }
  const admin::RestoredCounts restored = admin::restoreState(*controller_, config, *saved);
  base::logInfo(
      "global.state_file {}: {} of {} saved backend{} restored (drain, disable, weight), {} of {} "
      "listener{} (drain, disable)",
      path, restored.backends, saved->backends.size(), saved->backends.size() == 1 ? "" : "s",
      restored.listeners, saved->listeners.size(), saved->listeners.size() == 1 ? "" : "s");
}

void Server::onSignal(int signal_number) {
  const std::int64_t now = io::monotonicMillis();
  const auto& global = serving_->config.global;
  if (signal_number == SIGTERM || signal_number == SIGINT) {
    if (!draining_ && !withdrawing_) {
      ServiceNotify::stopping("stopping: waiting for open connections");
      beginStop(now, signal_number == SIGTERM ? "received SIGTERM" : "received SIGINT");
    } else if (withdrawing_) {
      base::logInfo("second signal: no longer accepting now");
      withdrawing_ = false;
      beginDrain(now, stop_reason_.c_str());
    } else if (!aborted_) {
      base::logInfo("second signal: closing open connections now");
      drain_deadline_ = now;  // the next tick closes them
    }
  } else if (signal_number == SIGUSR2) {
    if (draining_ || upgrading_) {
      base::logWarn("SIGUSR2: {}, not starting a new binary",
                    draining_ ? "shutting down" : "an upgrade is under way");
    } else if (auto started = self_upgrade_.start(config_path_, serving_->config); !started) {
      base::logError("SIGUSR2: no binary upgrade: {}", started.error().message());
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
}

void Server::onTick() {
  self_upgrade_.poll();
  const std::int64_t now = io::monotonicMillis();
  if (withdrawing_ && now >= withdraw_deadline_) {
    withdrawing_ = false;
    beginDrain(now, stop_reason_.c_str());
  }
  updateAnnouncer(now);
  updatePacketPath();
  if (draining_ && !aborted_ && now >= drain_deadline_) {
    aborted_ = true;
    base::logInfo("shutdown grace over: closing remaining connections");
    for (auto& w : workers_) w->abortAll();
  }
  // An upgrade out of this process ends on this thread: serve it until it has.
  const bool upgrade_running = upgrade_source_ && upgrade_source_->running();
  if (draining_ && allFinished(workers_) && !upgrade_running) {
    loop_->stop();
    return;
  }
  if (!tick_.scheduled()) loop_->timers().schedule(&tick_, now + kTickMillis);
}

void Server::beginStop(std::int64_t now, const char* why) {
  stop_reason_ = why;
  const bool announced = announcer_ && announcer_->stop(now);
  const base::Duration grace = serving_->config.global.withdraw_grace;
  if (!announced || grace.count() == 0) {
    beginDrain(now, why);
    return;
  }
  withdrawing_ = true;
  withdraw_deadline_ = now + grace.count();
  base::logInfo(
      "{}: VIPs withdrawn from {}; still accepting for {} (withdraw_grace) while "
      "routers move new flows away",
      why, announcer_->interfaceName(), base::formatDuration(grace));
}

void Server::beginDrain(std::int64_t now, const char* why) {
  const auto& global = serving_->config.global;
  draining_ = true;
  stopDiscovery();
  drain_deadline_ = now + global.shutdown_grace.count();
  base::logInfo("{}: no longer accepting; waiting up to {} for open connections", why,
                base::formatDuration(global.shutdown_grace));
  {
    std::lock_guard lock(checks_.mutex);
    if (checks_.checker) checks_.checker->stop();
  }
  for (auto& w : workers_) w->drain();
}

int Server::finish() {
  stopDiscovery();
  for (auto& w : workers_) w->join();
  if (upgrade_source_) upgrade_source_->join();
  stopAdmin();
  {
    std::lock_guard lock(checks_.mutex);
    if (checks_.checker) checks_.checker->stop();
    // Over every config generation (each reload has its own checker).
    if (checks_.checker || checks_.retired_transitions != 0) {
      base::logInfo("health: {} backend state changes", checks_.transitions());
    }
  }
  logTotals();
  packet_.reset();  // detaches the XDP programs: the VIPs' packets go to the host again
  return 0;
}

void Server::stopAdmin() {
  if (!admin_server_) return;
  // stop() waits for the requests under way, which may wait for this thread: it goes on
  // answering them (shutting down: each refused) until the API has stopped.
  std::thread stopping([this] {
    admin_server_->stop();
    loop_->post([this] { loop_->stop(); });
  });
  loop_->run();
  stopping.join();
}

}  // namespace l4lb::app
