#include "net/datagram_socket.h"

#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>

#include "net/socket_file.h"

namespace l4lb::net {

namespace {

constexpr int kListenerReceiveBuffer = 4 << 20;

// A unixgram path that exists but that no socket is bound to any more refuses a datagram
// connect: remove it so bind works after a crash.
void removeStaleUnixgramPath(const Endpoint& endpoint) {
  const auto* sun = reinterpret_cast<const sockaddr_un*>(&endpoint.addr);
  if (sun->sun_path[0] == '\0') return;  // abstract: vanishes with its socket
  struct stat st {};
  if (::lstat(sun->sun_path, &st) != 0 || !S_ISSOCK(st.st_mode)) return;
  base::Fd probe(::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!probe) return;
  if (::connect(probe.get(), endpoint.sockaddrPtr(), endpoint.addr_len) != 0 &&
      errno == ECONNREFUSED) {
    ::unlink(sun->sun_path);
  }
}

void raiseReceiveBuffer(int fd) {
  int size = kListenerReceiveBuffer;
  // SO_RCVBUFFORCE passes net.core.rmem_max when privileged; otherwise the capped request.
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
  }
}

}  // namespace

base::Result<base::Fd> bindDatagram(const Endpoint& endpoint, bool reuse_port,
                                    const SocketFile& file) {
  base::Fd fd(::socket(endpoint.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return base::lastError("socket");
  int one = 1;
  if (endpoint.family() != AF_UNIX) {
    if (reuse_port && ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
      return base::lastError("setsockopt(SO_REUSEPORT)");
    }
    if (endpoint.family() == AF_INET6 &&
        ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) {
      return base::lastError("setsockopt(IPV6_V6ONLY)");
    }
  } else {
    removeStaleUnixgramPath(endpoint);
  }
  raiseReceiveBuffer(fd.get());
  if (auto bound = bindSocket(fd.get(), endpoint, file); !bound) return bound.error();
  return fd;
}

base::Result<base::Fd> connectDatagram(const Endpoint& endpoint) {
  base::Fd fd(::socket(endpoint.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return base::lastError("socket");
  if (endpoint.family() == AF_UNIX) {
    sockaddr_un autobind{};
    autobind.sun_family = AF_UNIX;
    // An address length of just the family asks for autobind: a unique abstract name.
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&autobind), sizeof(sa_family_t)) != 0) {
      return base::lastError("bind(autobind)");
    }
  }
  if (::connect(fd.get(), endpoint.sockaddrPtr(), endpoint.addr_len) != 0) {
    return base::lastError("connect");
  }
  return fd;
}

}  // namespace l4lb::net
