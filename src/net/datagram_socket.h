#pragma once

#include "base/fd.h"
#include "base/result.h"
#include "net/endpoint.h"
#include "net/socket_file.h"

namespace l4lb::net {

// A bound, non-blocking, close-on-exec datagram socket for a listener: udp:// (with
// SO_REUSEPORT when each worker binds its own) or unixgram:// (a path left behind by a process
// that is gone is removed first; one that is live is an error). The receive buffer is raised as
// far as the system allows, since a burst that overflows it is lost, not delayed. A unixgram://
// path's file gets `file`'s mode and owner.
[[nodiscard]] base::Result<base::Fd> bindDatagram(const Endpoint& endpoint, bool reuse_port,
                                                  const SocketFile& file = {});

// A connected, non-blocking datagram socket to a backend, one per flow: its own source address
// is what lets the backend's replies be told apart per flow. A unixgram socket first binds an
// autobind abstract name (the kernel picks a unique one), since a backend cannot reply to an
// unnamed sender.
[[nodiscard]] base::Result<base::Fd> connectDatagram(const Endpoint& endpoint);

}  // namespace l4lb::net
