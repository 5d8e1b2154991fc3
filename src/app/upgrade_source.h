#pragma once

#include <atomic>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "base/fd.h"
#include "upgrade/handoff_message.h"
#include "worker/worker.h"

namespace l4lb::upgrade {
class HandoffChannel;
}  // namespace l4lb::upgrade

namespace l4lb::app {

// One listening socket lent to the new process.
struct PassedSocket {
  upgrade::ListenerHandoff what;
  base::Fd fd;
};

// A proxied connection or datagram flow taken apart, ready to send.
struct HandedConnection {
  upgrade::HandoffMessage message;  // a SessionHandoff or a FlowHandoff
  std::vector<base::Fd> fds;
};

// What the old process's side of a binary upgrade asks of the running server. Each hook runs
// on the server's main thread while the upgrade's thread waits for it.
struct UpgradeSourceHooks {
  std::function<std::vector<upgrade::BackendRecord>()> backend_states;
  std::function<std::vector<PassedSocket>()> listener_sockets;
  // The announce interface's descriptor (app/announcer.h), lent with the listeners; -1: none.
  std::function<int()> announce_fd;
  // The listeners an operator drained or disabled, sent with the interface.
  std::function<std::vector<upgrade::ListenerAdminState>()> listener_states;
  std::function<void(bool accepting)> set_accepting;
  // Takes apart the sessions and flows that can move now, of the listeners the new process
  // serves.
  std::function<std::vector<HandedConnection>(const std::vector<std::string>&)> hand_off;
  // The new process has everything it will get: the admin API's sockets close, so it can bind
  // them.
  std::function<void()> release_admin;
  // The end: `handed_over` true, the server drains what stayed and exits; false, it goes on
  // serving everything (accepting again if it had stopped).
  std::function<void(bool handed_over)> finished;
};

// The old process's side of a binary upgrade (docs/upgrade.md), on a thread of its own: waits
// for the new process on a SOCK_SEQPACKET socket, lends it every listening socket, stops
// accepting once it serves them, then hands over every session that can move, and says Done.
// Any failure before the new process has taken the listeners leaves this process as it was.
class UpgradeSource {
 public:
  UpgradeSource(UpgradeSourceHooks hooks, upgrade::Hello hello);
  ~UpgradeSource();
  UpgradeSource(const UpgradeSource&) = delete;
  UpgradeSource& operator=(const UpgradeSource&) = delete;

  // Binds the handoff socket at `path` ("@name": abstract) and starts waiting for the new
  // process. An error when the socket cannot be made.
  [[nodiscard]] base::Result<void> start(const std::string& path);
  // True until the upgrade has ended, either way.
  [[nodiscard]] bool running() const { return running_.load(std::memory_order_acquire); }
  void join();

 private:
  void run();
  // The error of the first step that fails; `stopped_accepting` says how far it got.
  base::Result<void> handOver(bool& stopped_accepting);
  // handOver's steps, in order; each an error when it fails.
  base::Result<void> greet(upgrade::HandoffChannel& channel);
  base::Result<void> sendBackendStates(upgrade::HandoffChannel& channel);
  // The listeners the new process says it serves now.
  base::Result<std::vector<std::string>> lendListeners(upgrade::HandoffChannel& channel);
  // Sweeps the sessions and flows of `listeners` that can move; the count of those sent.
  base::Result<std::uint32_t> handOffSessions(upgrade::HandoffChannel& channel,
                                              const std::vector<std::string>& listeners);

  UpgradeSourceHooks hooks_;
  upgrade::Hello hello_;
  std::string path_;
  base::Fd listening_;
  std::atomic<bool> running_{false};
  std::thread thread_;
};

}  // namespace l4lb::app
