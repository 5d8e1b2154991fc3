#pragma once

#include <sys/socket.h>

#include <cerrno>
#include <cstdint>

#include "base/fd.h"
#include "base/result.h"
#include "net/endpoint.h"
#include "net/local_source.h"
#include "net/socket_file.h"

namespace l4lb::net {

struct ListenOptions {
  int backlog = 4096;
  bool reuse_port = false;  // one socket per worker, the kernel spreading connections among them
  SocketFile file;          // unix:///PATH: the socket file's mode and owner
};

// A bound (not yet listening) non-blocking, close-on-exec stream socket: nothing can connect to
// it until listen(2), so a start that fails after binding turns no client away. A stale Unix
// path is removed first, as listenStream does.
[[nodiscard]] base::Result<base::Fd> bindStream(const Endpoint& endpoint,
                                                const ListenOptions& options);

// A bound, listening, non-blocking, close-on-exec stream socket. A Unix path left behind by a
// process that is gone (nothing accepts on it) is removed first; one that is live is an error.
[[nodiscard]] base::Result<base::Fd> listenStream(const Endpoint& endpoint,
                                                  const ListenOptions& options);

// Starts a non-blocking connect, from `source` when it names one. The descriptor is returned
// while the connect is in progress: the caller waits for writability and reads the outcome with
// socketError().
[[nodiscard]] base::Result<base::Fd> connectStream(const Endpoint& endpoint,
                                                   const LocalSource& source = {});

// connectStream in two steps, for a caller that must tell this host's failures (the first:
// descriptors, the source's bind) from the backend's (the second: an errno, 0 when started).
[[nodiscard]] base::Result<base::Fd> openStream(const Endpoint& to, const LocalSource& source);
[[nodiscard]] int startConnect(int fd, const Endpoint& to);

// The pending error of a socket (SO_ERROR), 0 when none.
[[nodiscard]] int socketError(int fd);

// The kernel's identity of a socket (SO_COOKIE): the same in every process that holds it, so a
// binary upgrade can tell which of several SO_REUSEPORT sockets a flow came in on. 0 if unknown.
[[nodiscard]] std::uint64_t socketCookie(int fd);

// Latency over batching: l4lb relays what it reads at once, so Nagle would only add delay.
void setNoDelay(int fd, int family);

// Makes the next close send a RST instead of a FIN, to pass a reset on to the other side.
void setResetOnClose(int fd);

// The errors that say this process or host is short of descriptors or memory, not that the peer
// failed: a connect or socket() that meets one is not the backend's fault.
[[nodiscard]] inline bool isLocalShortage(int error) {
  return error == EMFILE || error == ENFILE || error == ENOBUFS || error == ENOMEM;
}

// Once a binary upgrade has handed the listening sockets to a new process, their filesystem
// paths are that process's: this one no longer removes them when it closes its copies.
void disownSocketPaths();
[[nodiscard]] bool ownsSocketPaths();

}  // namespace l4lb::net
