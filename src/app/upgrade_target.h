#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "upgrade/handoff_channel.h"

namespace l4lb::app {

// The new process's side of a binary upgrade (docs/upgrade.md), run on the main thread before
// and just after the workers start: asks the old process (through its admin API on a unix://
// socket) for its handoff socket, takes its listening sockets, says which it serves, then takes
// over the connections it hands on.
class UpgradeTarget {
 public:
  // POST /api/v1/upgrade on `admin_url`, then connects to the socket it names and exchanges
  // hellos. On an error nothing was taken, and the old process serves on.
  [[nodiscard]] base::Result<void> connect(const std::string& admin_url,
                                           const upgrade::Hello& hello);
  // Every listening socket of the old process, each with its descriptor, what it knew of its
  // backends, and its announce interface's descriptor (left invalid when it has none) with the
  // listeners an operator drained or disabled.
  [[nodiscard]] base::Result<void> receiveListeners(
      std::vector<upgrade::ReceivedHandoff>& listeners,
      std::vector<upgrade::BackendRecord>& backends, base::Fd& announce,
      std::vector<upgrade::ListenerAdminState>& listener_states);
  // Tells the old process these listeners are served here now: it stops accepting on them.
  [[nodiscard]] base::Result<void> sendTakenOver(std::vector<std::string> listeners);
  // Takes the handed-over sessions and flows until Done, each given to `deliver`.
  [[nodiscard]] base::Result<upgrade::Done> receiveConnections(
      const std::function<void(upgrade::ReceivedHandoff)>& deliver);
  [[nodiscard]] const upgrade::Hello& peer() const { return peer_; }

 private:
  std::optional<upgrade::HandoffChannel> channel_;
  upgrade::Hello peer_;
};

}  // namespace l4lb::app
