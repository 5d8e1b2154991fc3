#pragma once

// The listening sockets the supervisor binds for the workers, at start and at a reload: bound
// first, all of them, and listening only once nothing else can fail, so a start that fails
// (on its admin socket, say) has taken no client's connection; and never on an address some
// other process listens on, which SO_REUSEPORT would let it share without a word.

#include <vector>

#include "base/fd.h"
#include "base/result.h"
#include "config/config.h"

namespace l4lb::app {

// Sockets bound and not yet listening, by descriptor: whoever holds them keeps them open until
// listenAll() (the workers, or a prepared reload).
class UnlistenedSockets {
 public:
  // `steer_workers`: attach per-source steering for that many workers once listening (before,
  // the kernel would make the socket a reuse-port group of its own, and refuse its listen).
  void add(int fd, int backlog, unsigned steer_workers = 0) {
    sockets_.push_back(Unlistened{fd, backlog, steer_workers});
  }
  [[nodiscard]] bool empty() const { return sockets_.empty(); }
  // listen(2) on each, in the order added; the first failure is the answer.
  [[nodiscard]] base::Result<void> listenAll();

 private:
  struct Unlistened {
    int fd;
    int backlog;
    unsigned steer_workers;
  };
  std::vector<Unlistened> sockets_;
};

// `count` sockets of a tcp:// or udp:// listener, one per worker (SO_REUSEPORT), in worker
// order (per-source steering relies on it); stream ones are added to `unlistened`. Refused,
// naming the address and the other process, when anything but this process (or the one it
// upgrades from) listens on an address that overlaps the listener's, before binding and after.
[[nodiscard]] base::Result<std::vector<base::Fd>> bindWorkerSockets(
    const config::ListenerConfig& listener, unsigned count, unsigned workers,
    UnlistenedSockets& unlistened);

// A bind error said within its listener, with a hint where the cause is a known one (a port
// below 1024 without the capability, a privilege drop).
[[nodiscard]] base::Error listenerError(const config::ListenerConfig& listener, base::Error error);

}  // namespace l4lb::app
