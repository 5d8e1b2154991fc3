#include "net/datagram_socket.h"

#include <linux/errqueue.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net/socket_file.h"

namespace l4lb::net {

namespace {

constexpr int kListenerReceiveBuffer = 4 << 20;
// Error queue entries read per takeQueuedError call; the queue is bounded by the receive buffer,
// and whatever is left keeps EPOLLERR set for the next call.
constexpr int kMaxQueuedErrors = 32;

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

base::Result<base::Fd> openDatagram(const Endpoint& to, const LocalSource& source) {
  base::Fd fd(::socket(to.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return base::lastError("socket");
  if (to.family() == AF_UNIX) {
    sockaddr_un autobind{};
    autobind.sun_family = AF_UNIX;
    // An address length of just the family asks for autobind: a unique abstract name.
    if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&autobind), sizeof(sa_family_t)) != 0) {
      return base::lastError("bind(autobind)");
    }
  } else if (auto bound = bindSource(fd.get(), to.family(), SOCK_DGRAM, source); !bound) {
    return bound.error();
  }
  int one = 1;
  if (to.family() == AF_INET &&
      ::setsockopt(fd.get(), IPPROTO_IP, IP_RECVERR, &one, sizeof(one)) != 0) {
    return base::lastError("setsockopt(IP_RECVERR)");
  }
  if (to.family() == AF_INET6 &&
      ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_RECVERR, &one, sizeof(one)) != 0) {
    return base::lastError("setsockopt(IPV6_RECVERR)");
  }
  return fd;
}

base::Result<base::Fd> connectDatagram(const Endpoint& endpoint, const LocalSource& source) {
  auto opened = openDatagram(endpoint, source);
  if (!opened) return opened;
  if (::connect(opened.value().get(), endpoint.sockaddrPtr(), endpoint.addr_len) != 0) {
    return base::lastError("connect");
  }
  return opened;
}

bool isBackendUnreachable(int error) {
  switch (error) {
    case ECONNREFUSED:  // port (or protocol) unreachable; a Unix receiver that went away
    case EHOSTUNREACH:  // host unreachable, or administratively prohibited
    case ENETUNREACH:
    case EHOSTDOWN:
    case ENONET:
    case ENOPROTOOPT:  // ICMP protocol unreachable
      return true;
    default: return false;
  }
}

int takeQueuedError(int fd) {
  int first = 0;
  int unreachable = 0;
  for (int i = 0; i < kMaxQueuedErrors; ++i) {
    // The offending datagram's bytes are not wanted, only the control message.
    char data[1];
    alignas(cmsghdr) char control[512];
    iovec iov{data, sizeof(data)};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    msg.msg_control = control;
    msg.msg_controllen = sizeof(control);
    if (::recvmsg(fd, &msg, MSG_ERRQUEUE | MSG_DONTWAIT) < 0) {
      if (errno == EINTR) continue;
      break;  // EAGAIN: empty
    }
    for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c != nullptr; c = CMSG_NXTHDR(&msg, c)) {
      const bool ip = c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_RECVERR;
      const bool ip6 = c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_RECVERR;
      if (!ip && !ip6) continue;
      sock_extended_err error{};
      std::memcpy(&error, CMSG_DATA(c), sizeof(error));
      const int code = static_cast<int>(error.ee_errno);
      if (first == 0) first = code;
      if (unreachable == 0 && isBackendUnreachable(code)) unreachable = code;
    }
  }
  return unreachable != 0 ? unreachable : first;
}

}  // namespace l4lb::net
