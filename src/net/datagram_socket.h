#pragma once

#include "base/fd.h"
#include "base/result.h"
#include "net/endpoint.h"
#include "net/local_source.h"
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
//
// A udp:// socket asks for every ICMP error (IP_RECVERR / IPV6_RECVERR): without it Linux reports
// only "hard" ones (port unreachable) on a connected UDP socket, and a backend whose host is gone
// (ICMP host unreachable, or "administratively prohibited" from a firewall's REJECT) would go on
// taking datagrams in silence. Errors are then also queued on the socket's error queue, which
// keeps it signalling EPOLLERR until takeQueuedError() empties it.
//
// `source`, when it names one, is the socket's address (udp:// only; the port is the kernel's).
[[nodiscard]] base::Result<base::Fd> connectDatagram(const Endpoint& endpoint,
                                                     const LocalSource& source = {});
// connectDatagram before its connect(2): what fails here is this host's doing, not the backend's.
[[nodiscard]] base::Result<base::Fd> openDatagram(const Endpoint& to, const LocalSource& source);

// Whether a send or receive error on a connected datagram socket says the backend cannot be
// reached (it refused: ICMP port or protocol unreachable, a Unix receiver gone; or its host or
// network is unreachable): the datagram is lost, and passive health counts it against the backend.
// Local shortages (ENOBUFS, EAGAIN) and EMSGSIZE (path MTU) are not the backend's doing.
[[nodiscard]] bool isBackendUnreachable(int error);

// Empties a socket's error queue (bounded: at most a few dozen entries per call) and returns the
// errno of the first entry that says the backend is unreachable, else of the first entry, else 0.
[[nodiscard]] int takeQueuedError(int fd);

}  // namespace l4lb::net
