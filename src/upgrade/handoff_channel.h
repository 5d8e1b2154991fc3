#pragma once

// The binary upgrade's connection between the old and the new process: one SOCK_SEQPACKET Unix
// socket carrying handoff messages (handoff_message.h), each with its descriptors. Blocking, on
// the upgrade's own thread in each process, never on a worker's.

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "base/fd.h"
#include "upgrade/handoff_message.h"

namespace l4lb::upgrade {

// How long either process waits for the other's next message. Generous: in between, the new
// process loads its config and starts its workers, the old one gathers every worker's sockets
// and sweeps its sessions.
inline constexpr std::chrono::milliseconds kAnswerTimeout{30'000};

// A message as received, owning the descriptors that came with it.
struct ReceivedHandoff {
  HandoffMessage message;
  std::vector<base::Fd> fds;
};

class HandoffChannel {
 public:
  explicit HandoffChannel(base::Fd socket) : socket_(std::move(socket)) {}

  // Sends `message` with `fds` (handoffFdCount(message) of them). An error when the peer is
  // gone or the socket fails.
  [[nodiscard]] base::Result<void> send(const HandoffMessage& message, const std::vector<int>& fds);
  // Waits up to `timeout` for the next message. An error on a timeout, the peer's end, a
  // malformed message, or the wrong number of descriptors (those that came are closed).
  [[nodiscard]] base::Result<ReceivedHandoff> receive(std::chrono::milliseconds timeout);

  // True when the other process has closed its end (or died), without reading anything.
  [[nodiscard]] bool peerGone() const;

  [[nodiscard]] int fd() const { return socket_.get(); }

 private:
  base::Fd socket_;
};

// The old process's end: a SOCK_SEQPACKET socket bound at `path` (a filesystem path, mode 0600,
// or "@name" for the abstract namespace), listening for one connection.
[[nodiscard]] base::Result<base::Fd> listenForHandoff(const std::string& path);
// Accepts the one connection, waiting up to `timeout`.
[[nodiscard]] base::Result<base::Fd> acceptHandoff(int listening,
                                                   std::chrono::milliseconds timeout);
// The new process's end.
[[nodiscard]] base::Result<base::Fd> connectForHandoff(const std::string& path);

}  // namespace l4lb::upgrade
