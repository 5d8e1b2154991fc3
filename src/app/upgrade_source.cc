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

bool UpgradeSource::start(const std::string& path, std::string& error) {
  listening_ = upgrade::listenForHandoff(path, error);
  if (!listening_) return false;
  path_ = path;
  running_.store(true, std::memory_order_release);
  thread_ = std::thread([this] { run(); });
  return true;
}

void UpgradeSource::run() {
  std::string error;
  bool stopped_accepting = false;
  const bool ok = handOver(error, stopped_accepting);
  listening_.reset();
  if (path_[0] != '@') ::unlink(path_.c_str());
  if (!ok) {
    if (stopped_accepting) {
      base::logError(
          "upgrade failed after the new process took the listeners ({}); accepting "
          "again here, sessions already handed over went with it",
          error);
    } else {
      base::logError("upgrade failed, still serving everything here: {}", error);
    }
  }
  hooks_.finished(ok);
  running_.store(false, std::memory_order_release);
}

bool UpgradeSource::handOver(std::string& error, bool& stopped_accepting) {
  base::Fd connection = upgrade::acceptHandoff(listening_.get(), kConnectTimeout, error);
  if (!connection) return false;
  upgrade::HandoffChannel channel(std::move(connection));
  if (!greet(channel, error)) return false;
  if (!sendBackendStates(channel, error)) return false;
  std::vector<std::string> taken;
  if (!lendListeners(channel, taken, error)) return false;
  hooks_.set_accepting(false);
  stopped_accepting = true;
  base::logInfo("upgrade: the new process serves {} listeners; no longer accepting here",
                taken.size());

  std::uint32_t sessions = 0;
  if (!handOffSessions(channel, taken, sessions, error)) return false;
  // Last look before the admin API goes: a new process that died meanwhile leaves this one
  // serving with everything it has.
  if (channel.peerGone()) {
    error = "the new process went away before the end";
    return false;
  }
  hooks_.release_admin();
  if (!channel.send(upgrade::Done{static_cast<std::uint32_t>(taken.size()), sessions}, {}, error)) {
    return false;
  }
  base::logInfo("upgrade: handed {} connections over; finishing the rest here", sessions);
  return true;
}

bool UpgradeSource::greet(upgrade::HandoffChannel& channel, std::string& error) {
  auto hello = channel.receive(upgrade::kAnswerTimeout, error);
  if (!hello) return false;
  const auto* theirs = std::get_if<upgrade::Hello>(&hello->message);
  if (theirs == nullptr) {
    error = "the new process did not start with a hello";
    return false;
  }
  if (theirs->protocol != upgrade::kProtocolVersion) {
    error = fmt::format("the new process speaks handoff protocol {}, this one {}", theirs->protocol,
                        upgrade::kProtocolVersion);
    return false;
  }
  base::logInfo("upgrade: new process pid {} (l4lb {}) connected", theirs->pid, theirs->version);
  return channel.send(hello_, {}, error);
}

// What the checks found and the operator changed, so the new process starts from it.
bool UpgradeSource::sendBackendStates(upgrade::HandoffChannel& channel, std::string& error) {
  std::vector<upgrade::BackendRecord> records = hooks_.backend_states();
  for (std::size_t at = 0; at < records.size(); at += upgrade::kMaxBackendRecords) {
    upgrade::BackendStates part;
    const std::size_t end = std::min(records.size(), at + upgrade::kMaxBackendRecords);
    part.backends.assign(records.begin() + static_cast<std::ptrdiff_t>(at),
                         records.begin() + static_cast<std::ptrdiff_t>(end));
    if (!channel.send(part, {}, error)) return false;
  }
  return true;
}

// Every listening socket, lent: this process keeps serving on its own copies until the new
// one says it serves them, so no connection finds nobody listening.
bool UpgradeSource::lendListeners(upgrade::HandoffChannel& channel, std::vector<std::string>& taken,
                                  std::string& error) {
  std::vector<PassedSocket> sockets = hooks_.listener_sockets();
  for (const auto& socket : sockets) {
    if (!channel.send(socket.what, {socket.fd.get()}, error)) return false;
  }
  if (!channel.send(upgrade::ListenersSent{static_cast<std::uint32_t>(sockets.size())}, {},
                    error)) {
    return false;
  }
  sockets.clear();
  auto answer = channel.receive(upgrade::kAnswerTimeout, error);
  if (!answer) return false;
  auto* taken_over = std::get_if<upgrade::TakenOver>(&answer->message);
  if (taken_over == nullptr) {
    error = "the new process answered the listeners with something else than TakenOver";
    return false;
  }
  taken = std::move(taken_over->listeners);
  return true;
}

bool UpgradeSource::handOffSessions(upgrade::HandoffChannel& channel,
                                    const std::vector<std::string>& listeners,
                                    std::uint32_t& sessions, std::string& error) {
  for (int sweep = 0; sweep < kSweeps; ++sweep) {
    std::vector<HandedConnection> handed = hooks_.hand_off(listeners);
    for (auto& handed_one : handed) {
      std::vector<int> fds;
      fds.reserve(handed_one.fds.size());
      for (const auto& fd : handed_one.fds) fds.push_back(fd.get());
      // Once sent, the new process holds the sockets too; closing ours (when `handed` goes)
      // says nothing to either peer.
      if (!channel.send(handed_one.message, fds, error)) return false;
      ++sessions;
    }
    if (sweep + 1 < kSweeps) std::this_thread::sleep_for(kSweepPause);
  }
  return true;
}

}  // namespace l4lb::app
