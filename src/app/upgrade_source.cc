#include "app/upgrade_source.h"

#include <unistd.h>

#include <algorithm>
#include <chrono>

#include "base/log.h"
#include "upgrade/handoff_channel.h"

namespace l4lb::app {

namespace {

using std::chrono::milliseconds;

// How long the new process may take to connect. Generous: it loads its config and starts its
// workers in between.
constexpr milliseconds kConnectTimeout{30'000};
// Sessions still connecting (or in a retry window) when the first sweep runs may become movable
// soon after; a few more sweeps take those too. The rest finish here.
constexpr int kSweeps = 10;
constexpr milliseconds kSweepPause{100};

}  // namespace

UpgradeSource::UpgradeSource(UpgradeSourceHooks hooks, upgrade::Hello hello)
    : hooks_(std::move(hooks)), hello_(std::move(hello)) {}

UpgradeSource::~UpgradeSource() { join(); }

void UpgradeSource::join() {
  if (thread_.joinable()) thread_.join();
}

base::Result<void> UpgradeSource::start(const std::string& path) {
  auto listening = upgrade::listenForHandoff(path);
  if (!listening) return listening.error();
  listening_ = std::move(listening).value();
  path_ = path;
  running_.store(true, std::memory_order_release);
  thread_ = std::thread([this] { run(); });
  return {};
}

void UpgradeSource::run() {
  bool stopped_accepting = false;
  const auto handed = handOver(stopped_accepting);
  listening_.reset();
  if (path_[0] != '@') ::unlink(path_.c_str());
  if (!handed) {
    if (stopped_accepting) {
      base::logError(
          "upgrade failed after the new process took the listeners ({}); accepting "
          "again here, sessions already handed over went with it",
          handed.error().message());
    } else {
      base::logError("upgrade failed, still serving everything here: {}", handed.error().message());
    }
  }
  hooks_.finished(handed.ok());
  running_.store(false, std::memory_order_release);
}

base::Result<void> UpgradeSource::handOver(bool& stopped_accepting) {
  auto connection = upgrade::acceptHandoff(listening_.get(), kConnectTimeout);
  if (!connection) return connection.error();
  upgrade::HandoffChannel channel(std::move(connection).value());
  if (auto greeted = greet(channel); !greeted) return greeted;
  if (auto sent = sendBackendStates(channel); !sent) return sent;
  auto taken = lendListeners(channel);
  if (!taken) return taken.error();
  hooks_.set_accepting(false);
  stopped_accepting = true;
  base::logInfo("upgrade: the new process serves {} listeners; no longer accepting here",
                taken->size());

  auto sessions = handOffSessions(channel, *taken);
  if (!sessions) return sessions.error();
  // Last look before the admin API goes: a new process that died meanwhile leaves this one
  // serving with everything it has.
  if (channel.peerGone()) return base::failure("the new process went away before the end");
  hooks_.release_admin();
  if (auto sent =
          channel.send(upgrade::Done{static_cast<std::uint32_t>(taken->size()), *sessions}, {});
      !sent) {
    return sent;
  }
  base::logInfo("upgrade: handed {} connections over; finishing the rest here", *sessions);
  return {};
}

base::Result<void> UpgradeSource::greet(upgrade::HandoffChannel& channel) {
  auto hello = channel.receive(upgrade::kAnswerTimeout);
  if (!hello) return hello.error();
  const auto* theirs = std::get_if<upgrade::Hello>(&hello->message);
  if (theirs == nullptr) return base::failure("the new process did not start with a hello");
  if (theirs->protocol != upgrade::kProtocolVersion) {
    return base::failure(fmt::format("the new process speaks handoff protocol {}, this one {}",
                                     theirs->protocol, upgrade::kProtocolVersion));
  }
  base::logInfo("upgrade: new process pid {} (l4lb {}) connected", theirs->pid, theirs->version);
  return channel.send(hello_, {});
}

// What the checks found and the operator changed, so the new process starts from it.
base::Result<void> UpgradeSource::sendBackendStates(upgrade::HandoffChannel& channel) {
  std::vector<upgrade::BackendRecord> records = hooks_.backend_states();
  for (std::size_t at = 0; at < records.size(); at += upgrade::kMaxBackendRecords) {
    upgrade::BackendStates part;
    const std::size_t end = std::min(records.size(), at + upgrade::kMaxBackendRecords);
    part.backends.assign(records.begin() + static_cast<std::ptrdiff_t>(at),
                         records.begin() + static_cast<std::ptrdiff_t>(end));
    if (auto sent = channel.send(part, {}); !sent) return sent;
  }
  return {};
}

// Every listening socket, lent: this process keeps serving on its own copies until the new
// one says it serves them, so no connection finds nobody listening.
base::Result<std::vector<std::string>> UpgradeSource::lendListeners(
    upgrade::HandoffChannel& channel) {
  std::vector<PassedSocket> sockets = hooks_.listener_sockets();
  for (const auto& socket : sockets) {
    if (auto sent = channel.send(socket.what, {socket.fd.get()}); !sent) return sent.error();
  }
  // The announce interface travels with them: held by both processes, it never disappears.
  if (const int announce = hooks_.announce_fd ? hooks_.announce_fd() : -1; announce >= 0) {
    upgrade::AnnounceInterface message;
    if (hooks_.listener_states) message.listeners = hooks_.listener_states();
    if (auto sent = channel.send(message, {announce}); !sent) {
      return sent.error();
    }
  }
  const upgrade::ListenersSent all{static_cast<std::uint32_t>(sockets.size())};
  if (auto sent = channel.send(all, {}); !sent) return sent.error();
  sockets.clear();
  auto answer = channel.receive(upgrade::kAnswerTimeout);
  if (!answer) return answer.error();
  auto* taken_over = std::get_if<upgrade::TakenOver>(&answer->message);
  if (taken_over == nullptr) {
    return base::failure(
        "the new process answered the listeners with something else than TakenOver");
  }
  return std::move(taken_over->listeners);
}

base::Result<std::uint32_t> UpgradeSource::handOffSessions(
    upgrade::HandoffChannel& channel, const std::vector<std::string>& listeners) {
  std::uint32_t sessions = 0;
  for (int sweep = 0; sweep < kSweeps; ++sweep) {
    std::vector<HandedConnection> handed = hooks_.hand_off(listeners);
    for (auto& handed_one : handed) {
      std::vector<int> fds;
      fds.reserve(handed_one.fds.size());
      for (const auto& fd : handed_one.fds) fds.push_back(fd.get());
      // Once sent, the new process holds the sockets too; closing ours (when `handed` goes)
      // says nothing to either peer.
      if (auto sent = channel.send(handed_one.message, fds); !sent) return sent.error();
      ++sessions;
    }
    if (sweep + 1 < kSweeps) std::this_thread::sleep_for(kSweepPause);
  }
  return sessions;
}

}  // namespace l4lb::app
