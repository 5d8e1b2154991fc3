#include "net/socket.h"

#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>

#include "net/socket_file.h"

namespace l4lb::net {

namespace {

// A Unix socket path that exists but that no process accepts on is stale: remove it so bind works
// after a crash, the way a restart of any Unix-socket server is expected to work.
void removeStaleUnixPath(const Endpoint& endpoint) {
  if (endpoint.kind != EndpointKind::kUnix) return;
  const auto* sun = reinterpret_cast<const sockaddr_un*>(&endpoint.addr);
  struct stat st {};
  if (::lstat(sun->sun_path, &st) != 0 || !S_ISSOCK(st.st_mode)) return;
  base::Fd probe(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!probe) return;
  if (::connect(probe.get(), endpoint.sockaddrPtr(), endpoint.addr_len) != 0 &&
      errno == ECONNREFUSED) {
    ::unlink(sun->sun_path);
  }
}

}  // namespace

base::Result<base::Fd> bindStream(const Endpoint& endpoint, const ListenOptions& options) {
  base::Fd fd(::socket(endpoint.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return base::lastError("socket");
  int one = 1;
  if (endpoint.family() != AF_UNIX) {
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) != 0) {
      return base::lastError("setsockopt(SO_REUSEADDR)");
    }
    if (options.reuse_port &&
        ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
      return base::lastError("setsockopt(SO_REUSEPORT)");
    }
    if (endpoint.family() == AF_INET6 &&
        ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one)) != 0) {
      return base::lastError("setsockopt(IPV6_V6ONLY)");
    }
  } else {
    removeStaleUnixPath(endpoint);
  }
  if (auto bound = bindSocket(fd.get(), endpoint, options.file); !bound) return bound.error();
  return fd;
}

base::Result<base::Fd> listenStream(const Endpoint& endpoint, const ListenOptions& options) {
  auto bound = bindStream(endpoint, options);
  if (!bound) return bound;
  if (::listen(bound.value().get(), options.backlog) != 0) return base::lastError("listen");
  return bound;
}

base::Result<base::Fd> openStream(const Endpoint& to, const LocalSource& source) {
  base::Fd fd(::socket(to.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return base::lastError("socket");
  setNoDelay(fd.get(), to.family());
  if (auto bound = bindSource(fd.get(), to.family(), SOCK_STREAM, source); !bound) {
    return bound.error();
  }
  return fd;
}

int startConnect(int fd, const Endpoint& to) {
  if (::connect(fd, to.sockaddrPtr(), to.addr_len) != 0 && errno != EINPROGRESS) {
    // Unix sockets fail at once (ECONNREFUSED, ENOENT, EAGAIN when the backlog is full).
    return errno;
  }
  return 0;
}

base::Result<base::Fd> connectStream(const Endpoint& endpoint, const LocalSource& source) {
  auto opened = openStream(endpoint, source);
  if (!opened) return opened;
  if (const int error = startConnect(opened.value().get(), endpoint); error != 0) {
    return base::sysError(error, "connect");
  }
  return opened;
}

int socketError(int fd) {
  int error = 0;
  socklen_t len = sizeof(error);
  if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) != 0) return errno;
  return error;
}

std::uint64_t socketCookie(int fd) {
  std::uint64_t cookie = 0;
  socklen_t len = sizeof(cookie);
  if (::getsockopt(fd, SOL_SOCKET, SO_COOKIE, &cookie, &len) != 0) return 0;
  return cookie;
}

void setNoDelay(int fd, int family) {
  if (family != AF_INET && family != AF_INET6) return;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

void setResetOnClose(int fd) {
  linger lg{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
}

namespace {
std::atomic<bool> socket_paths_disowned{false};
}  // namespace

void disownSocketPaths() { socket_paths_disowned.store(true, std::memory_order_relaxed); }
bool ownsSocketPaths() { return !socket_paths_disowned.load(std::memory_order_relaxed); }

}  // namespace l4lb::net
