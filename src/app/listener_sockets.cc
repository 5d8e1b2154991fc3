#include "app/listener_sockets.h"

#include <fmt/format.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "app/privileges.h"
#include "base/log.h"
#include "net/datagram_socket.h"
#include "net/socket.h"
#include "net/socket_holders.h"
#include "net/source_steering.h"

namespace l4lb::app {

namespace {

// Someone else on the listener's address: what the operator reads, naming both.
base::Result<void> refuseShared(const config::ListenerConfig& listener) {
  auto others = net::otherSocketsOn(listener.bind);
  if (!others) {
    // Without the kernel's socket table (a sandbox that forbids NETLINK_SOCK_DIAG), l4lb binds
    // as it did before it looked: say so once per listener, and go on.
    base::logWarn("listener \"{}\" ({}): cannot tell whether another process listens there: {}",
                  listener.name, listener.bind.url, others.error().message());
    return {};
  }
  if (others->empty()) return {};
  return base::failure(fmt::format(
      "listener \"{}\" ({}): the address is {} already: {}; l4lb shares a listening address "
      "with no other process (SO_REUSEPORT would split the connections between them): stop "
      "that process, or bind another address",
      listener.name, listener.bind.url, listener.isDatagram() ? "bound" : "listened on",
      net::describeOthers(*others)));
}

}  // namespace

base::Result<void> UnlistenedSockets::listenAll() {
  for (const auto& socket : sockets_) {
    if (::listen(socket.fd, socket.backlog) != 0) return base::lastError("listen");
    if (socket.steer_workers > 0) {
      // Each client address to one worker, so per-source limits are counted exactly.
      if (auto steered = net::steerBySource(socket.fd, socket.steer_workers); !steered) {
        return steered;
      }
    }
  }
  sockets_.clear();
  return {};
}

base::Result<std::vector<base::Fd>> bindWorkerSockets(const config::ListenerConfig& listener,
                                                      unsigned count, unsigned workers,
                                                      UnlistenedSockets& unlistened) {
  // Before binding: a udp:// socket takes its share of datagrams from the moment it is bound.
  if (auto alone = refuseShared(listener); !alone) return alone.error();
  const bool datagram = listener.bind.kind == net::EndpointKind::kUdp;
  const bool steer =
      datagram ? listener.per_source_max_flows > 0
               : listener.per_source_max_connections > 0 || listener.per_source_rate.enabled();
  std::vector<base::Fd> sockets;
  for (unsigned i = 0; i < count; ++i) {
    auto bound = datagram ? net::bindDatagram(listener.bind, /*reuse_port=*/true)
                          : net::bindStream(listener.bind, net::ListenOptions{listener.backlog,
                                                                              /*reuse_port=*/true,
                                                                              {}});
    if (!bound) return listenerError(listener, bound.error());
    if (!datagram) net::setNoDelay(bound.value().get(), listener.bind.family());
    if (steer && datagram) {
      // Each client address to one worker, so its flows are counted in one table. (A udp://
      // socket joins its reuse-port group at bind; a stream one at listen: listenAll.)
      if (auto steered = net::steerBySource(bound.value().get(), workers); !steered) {
        return listenerError(listener, steered.error());
      }
    }
    sockets.push_back(std::move(bound.value()));
  }
  // After: one that came in between (its listen(2) before ours) is found now, and nothing has
  // been taken from it, ours not listening yet.
  if (auto alone = refuseShared(listener); !alone) return alone.error();
  if (!datagram) {
    for (const auto& socket : sockets) {
      unlistened.add(socket.get(), listener.backlog, steer ? workers : 0);
    }
  }
  return sockets;
}

base::Error listenerError(const config::ListenerConfig& listener, base::Error error) {
  const bool denied =
      error.code == EACCES || error.message().find(std::strerror(EACCES)) != std::string::npos;
  if (denied && privilegesDropped()) {
    // After the privilege drop ([global] user) ports below 1024 cannot be bound again.
    error = base::failure(fmt::format(
        "{} (l4lb dropped to uid {} at start, [global] user: binding a port below 1024 or a "
        "root-only path needs a restart, or a socket passed by the service manager)",
        error.message(), ::geteuid()));
  }
  return std::move(error).within(
      fmt::format("listener \"{}\" ({})", listener.name, listener.bind.url));
}

}  // namespace l4lb::app
