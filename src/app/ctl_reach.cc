#include "app/ctl_reach.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "base/fd.h"

namespace l4lb::app {

namespace {

constexpr int kConnectTimeoutMs = 5000;

// "a directory", "a regular file", ...: what a path that should be a socket is instead.
std::string_view fileKind(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISREG(mode)) return "a regular file";
  if (S_ISFIFO(mode)) return "a FIFO";
  if (S_ISCHR(mode) || S_ISBLK(mode)) return "a device";
  if (S_ISLNK(mode)) return "a symbolic link";
  return "not a socket";
}

// connect(2)'s errno to `endpoint` (0: it connected), waiting at most kConnectTimeoutMs.
int connectErrno(const net::Endpoint& endpoint) {
  base::Fd fd(::socket(endpoint.family(), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) return errno;
  if (::connect(fd.get(), endpoint.sockaddrPtr(), endpoint.addr_len) == 0) return 0;
  if (errno != EINPROGRESS && errno != EAGAIN) return errno;
  pollfd waiting{.fd = fd.get(), .events = POLLOUT, .revents = 0};
  const int ready = ::poll(&waiting, 1, kConnectTimeoutMs);
  if (ready == 0) return ETIMEDOUT;
  if (ready < 0) return errno;
  int error = 0;
  socklen_t length = sizeof(error);
  if (::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &error, &length) != 0) return errno;
  return error;
}

std::string unixSocketProblem(const net::Endpoint& endpoint) {
  const auto* sun = reinterpret_cast<const sockaddr_un*>(&endpoint.addr);
  const bool abstract = sun->sun_path[0] == '\0';
  struct stat st {};
  if (!abstract) {
    if (::stat(sun->sun_path, &st) != 0) {
      const int error = errno;
      if (error == ENOENT) return fmt::format("{} ({})", std::strerror(error), kCtlHint);
      if (error == EACCES) {
        return fmt::format(
            "{} (a directory on the way is closed to this user: run ctl as the "
            "user l4lb runs as, or as root)",
            std::strerror(error));
      }
      return std::strerror(error);
    }
    if (!S_ISSOCK(st.st_mode)) {
      return fmt::format("{}, not a socket ({})", fileKind(st.st_mode), kCtlHint);
    }
  }
  const int error = connectErrno(endpoint);
  if (error == 0) return {};
  if (error == ECONNREFUSED) {
    return fmt::format("connect: {} (nothing listens on it: a socket file left behind? {})",
                       std::strerror(error), kCtlHint);
  }
  if ((error == EACCES || error == EPERM) && !abstract) {
    return fmt::format(
        "connect: {} (the socket is mode {:04o}, owned by uid {} gid {}; this is "
        "uid {}: run ctl as its owner or as root)",
        std::strerror(error), st.st_mode & 07777, st.st_uid, st.st_gid, ::geteuid());
  }
  return fmt::format("connect: {}", std::strerror(error));
}

}  // namespace

std::string adminUrlOf(std::string_view socket_option) {
  if (socket_option.find("://") != std::string_view::npos) return std::string(socket_option);
  std::error_code error;
  std::filesystem::path path(socket_option);
  if (path.is_relative()) {
    const auto absolute = std::filesystem::absolute(path, error);
    if (!error) path = absolute;
  }
  return "unix://" + path.string();
}

std::string whyUnreachable(const net::Endpoint& endpoint) {
  if (endpoint.kind == net::EndpointKind::kUnix) return unixSocketProblem(endpoint);
  const int error = connectErrno(endpoint);
  if (error == 0) return {};
  if (error == ECONNREFUSED) {
    return fmt::format("connect: {} (nothing listens there; {})", std::strerror(error), kCtlHint);
  }
  return fmt::format("connect: {}", std::strerror(error));
}

}  // namespace l4lb::app
