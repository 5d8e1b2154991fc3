#include <fmt/format.h>
#include <unistd.h>

#include <chrono>

#include "admin/file_digest.h"
#include "app/server.h"
#include "app/worker_job.h"
#include "base/log.h"
#include "io/clock.h"
#include "net/socket.h"
#include "net/socket_holders.h"

namespace l4lb::app {

namespace {

// Upgrade thread: has the main thread, which owns the workers and the serving config, run `job`
// and waits for its result; none if it was not taken up in 60 s (and then it never runs).
template <typename Result, typename Job>
Result onMain(io::EventLoop& loop, Job job) {
  return runOnLoop<Result>(loop, std::move(job), std::chrono::seconds(60)).value_or(Result{});
}

}  // namespace

admin::ReloadOutcome Server::beginUpgrade() {
  auto refuse = [](std::string message) {
    return admin::ReloadOutcome{
        .ok = false, .message = std::move(message), .warnings = {}, .changes = {}};
  };
  if (draining_) return refuse("shutting down");
  if (upgrading_) return refuse("an upgrade is under way already");
  // The handoff socket goes beside the first unix:// admin socket, with the same access.
  std::string path = unixAdminPath(serving_->config);
  if (path.empty()) return refuse("no unix:// admin socket to put the handoff socket beside");
  path += fmt::format(".upgrade-{}", ::getpid());
  if (upgrade_source_) upgrade_source_->join();  // an earlier one that failed
  upgrade::Hello hello{.protocol = upgrade::kProtocolVersion,
                       .pid = static_cast<std::uint32_t>(::getpid()),
                       .version = L4LB_VERSION,
                       .config_digest = admin::fileSha256(serving_->config.source)};
  upgrade_source_ = std::make_unique<UpgradeSource>(upgradeSourceHooks(), std::move(hello));
  if (auto started = upgrade_source_->start(path); !started) {
    upgrade_source_.reset();
    return refuse("cannot open the handoff socket: " + started.error().message());
  }
  upgrading_ = true;
  base::logInfo("upgrade: waiting for the new process on {}", path);
  return admin::ReloadOutcome{.ok = true, .message = path, .warnings = {}, .changes = {}};
}

UpgradeSourceHooks Server::upgradeSourceHooks() {
  // Each runs on the upgrade's thread; what it does, on the main thread.
  UpgradeSourceHooks hooks;
  hooks.backend_states = [this] {
    return onMain<std::vector<upgrade::BackendRecord>>(*loop_, [this] {
      std::shared_ptr<const control::HealthSnapshot> latest;
      {
        std::lock_guard lock(checks_.mutex);
        if (checks_.checker) latest = checks_.checker->latest();
      }
      return backendRecords(serving_->config, latest.get(), controller_.get());
    });
  };
  hooks.listener_sockets = [this] {
    return onMain<std::vector<PassedSocket>>(
        *loop_, [this] { return gatherListenerSockets(workers_, *serving_); });
  };
  hooks.announce_fd = [this] { return announcer_ ? announcer_->fd() : -1; };
  hooks.listener_states = [this] {
    std::vector<upgrade::ListenerAdminState> states;
    if (!controller_) return states;
    for (const auto& [listener, state] : controller_->listenerStates()) {
      states.push_back(upgrade::ListenerAdminState{listener, static_cast<std::uint8_t>(state)});
    }
    return states;
  };
  hooks.set_accepting = [this](bool accepting) {
    (void)onMain<bool>(*loop_, [this, accepting] {
      setAccepting(workers_, accepting);
      // The new process serves: the announced VIPs are its to keep or withdraw now.
      if (announcer_) announcer_->setHandedOff(!accepting);
      return true;
    });
  };
  hooks.hand_off = [this](const std::vector<std::string>& listeners) {
    return onMain<std::vector<HandedConnection>>(
        *loop_, [this, listeners] { return handOffConnections(workers_, listeners); });
  };
  hooks.release_admin = [this] {
    (void)onMain<bool>(*loop_, [this] {
      // The socket paths are the new process's now; the admin API's it binds after this.
      net::disownSocketPaths();
      if (admin_server_) admin_server_->stop();
      return true;
    });
  };
  hooks.finished = [this](bool handed_over) {
    (void)onMain<bool>(*loop_, [this, handed_over] {
      upgrading_ = false;
      if (draining_) return true;  // stopped meanwhile (a signal): nothing to start or resume
      if (handed_over) {
        beginDrain(io::monotonicMillis(), "upgrade done");
      } else {
        setAccepting(workers_, true);
        if (announcer_) announcer_->setHandedOff(false);
      }
      return true;
    });
  };
  return hooks;
}

base::Result<void> Server::takeListeners(UpgradeTarget& target, const config::Config& config,
                                         std::vector<base::Fd>& shared) {
  upgrade::Hello hello{.protocol = upgrade::kProtocolVersion,
                       .pid = static_cast<std::uint32_t>(::getpid()),
                       .version = L4LB_VERSION,
                       .config_digest = admin::fileSha256(config.source)};
  if (auto connected = target.connect(upgrade_from_, hello); !connected) return connected;
  std::vector<upgrade::ReceivedHandoff> received;
  if (auto listeners = target.receiveListeners(received, taken_backends_, handed_announce_fd_,
                                               taken_listener_states_);
      !listeners) {
    return listeners;
  }
  // They come with the interface's descriptor, in one message.
  listener_states_taken_ = handed_announce_fd_.valid();
  for (const auto& item : received) {
    // The old process keeps its copies a while: sharing an address with it is not sharing.
    for (const auto& fd : item.fds) net::handedSocket(fd.get());
  }
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
  return {};
}

void Server::takeConnections(UpgradeTarget& target) {
  std::size_t next_worker = 0;
  std::size_t taken = 0;
  auto done = [&]() -> base::Result<upgrade::Done> {
    if (auto said = target.sendTakenOver(taken_listeners_); !said) return said.error();
    return target.receiveConnections([&](upgrade::ReceivedHandoff connection) {
      ++taken;
      deliverConnection(workers_, socket_workers_, std::move(connection), next_worker);
    });
  }();
  if (done) {
    base::logInfo("upgrade from pid {} done: serving {} listeners of it and {} connections",
                  target.peer().pid, done->listeners, taken);
  } else {
    // The listeners are served here either way; the old process serves on what it kept.
    base::logError("upgrade from pid {}: {} (after {} connections)", target.peer().pid,
                   done.error().message(), taken);
  }
  if (!admin_server_) return;
  if (auto bound = admin_server_->bind(); !bound) {
    base::logError("upgrade: the admin API could not be bound: {}", bound.error().message());
    return;
  }
  admin_server_->start();
}

}  // namespace l4lb::app
