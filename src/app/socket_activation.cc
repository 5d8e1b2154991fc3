#include "app/socket_activation.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <systemd/sd-daemon.h>

#include <cstddef>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "base/log.h"

namespace l4lb::app {

namespace {

// The bytes of a Unix socket address's path (abstract names keep their leading NUL); a path's
// trailing NULs are not part of it: getsockname may count one, the config's address may not.
std::string_view unixPath(const sockaddr_storage& addr, socklen_t len) {
  constexpr auto kOffset = offsetof(sockaddr_un, sun_path);
  if (len <= kOffset) return {};
  const auto* sun = reinterpret_cast<const sockaddr_un*>(&addr);
  std::string_view path(sun->sun_path, len - kOffset);
  if (!path.empty() && path[0] != '\0') {
    while (!path.empty() && path.back() == '\0') path.remove_suffix(1);
  }
  return path;
}

bool sameAddress(const sockaddr_storage& bound, socklen_t bound_len, const net::Endpoint& want) {
  if (bound.ss_family != want.addr.ss_family) return false;
  switch (bound.ss_family) {
    case AF_INET: {
      const auto* a = reinterpret_cast<const sockaddr_in*>(&bound);
      const auto* b = reinterpret_cast<const sockaddr_in*>(&want.addr);
      return a->sin_port == b->sin_port && a->sin_addr.s_addr == b->sin_addr.s_addr;
    }
    case AF_INET6: {
      const auto* a = reinterpret_cast<const sockaddr_in6*>(&bound);
      const auto* b = reinterpret_cast<const sockaddr_in6*>(&want.addr);
      return a->sin6_port == b->sin6_port &&
             std::memcmp(&a->sin6_addr, &b->sin6_addr, sizeof(a->sin6_addr)) == 0 &&
             a->sin6_scope_id == b->sin6_scope_id;
    }
    case AF_UNIX: return unixPath(bound, bound_len) == unixPath(want.addr, want.addr_len);
    default: return false;
  }
}

std::string_view familyName(int family) {
  switch (family) {
    case AF_INET: return "IPv4";
    case AF_INET6: return "IPv6";
    case AF_UNIX: return "Unix";
    default: return "another family";
  }
}

int socketOption(int fd, int option) {
  int value = -1;
  socklen_t len = sizeof(value);
  if (::getsockopt(fd, SOL_SOCKET, option, &value, &len) != 0) return -1;
  return value;
}

// Why `fd` cannot serve `listener`; empty when it can.
std::string mismatch(int fd, const config::ListenerConfig& listener) {
  const int want_type = listener.isDatagram() ? SOCK_DGRAM : SOCK_STREAM;
  const int type = socketOption(fd, SO_TYPE);
  if (type != want_type) {
    return fmt::format("it is a {} socket, the listener needs a {} one",
                       type == SOCK_STREAM  ? "stream"
                       : type == SOCK_DGRAM ? "datagram"
                                            : "non-stream, non-datagram",
                       want_type == SOCK_STREAM ? "stream" : "datagram");
  }
  sockaddr_storage bound{};
  socklen_t bound_len = sizeof(bound);
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound), &bound_len) != 0) {
    return fmt::format("getsockname: {}", std::strerror(errno));
  }
  const std::string want_text =
      net::formatSockaddr(listener.bind.sockaddrPtr(), listener.bind.addr_len);
  if (bound.ss_family != listener.bind.family()) {
    return fmt::format("it is an {} socket ({}), the listener binds {} address {}",
                       familyName(bound.ss_family),
                       net::formatSockaddr(reinterpret_cast<const sockaddr*>(&bound), bound_len),
                       familyName(listener.bind.family()), want_text);
  }
  if (!sameAddress(bound, bound_len, listener.bind)) {
    return fmt::format("it is bound to {}, the listener to {}",
                       net::formatSockaddr(reinterpret_cast<const sockaddr*>(&bound), bound_len),
                       want_text);
  }
  if (want_type == SOCK_STREAM && socketOption(fd, SO_ACCEPTCONN) != 1) {
    return "it is not listening (a .socket unit with Accept=yes passes connections, not a "
           "listening socket: l4lb needs Accept=no)";
  }
  return {};
}

[[nodiscard]] bool makeNonBlockingCloseOnExec(int fd) {
  const int flags = ::fcntl(fd, F_GETFL);
  if (flags < 0 || ::fcntl(fd, F_SETFL, flags | O_NONBLOCK) != 0) return false;
  const int fd_flags = ::fcntl(fd, F_GETFD);
  return fd_flags >= 0 && ::fcntl(fd, F_SETFD, fd_flags | FD_CLOEXEC) == 0;
}

// Each descriptor sd_listen_fds_with_names passed is owned from here, so every path out closes
// the ones not kept; a name is "unknown" when the manager gave none. Frees `names`.
void ownPassed(int count, char** names, std::vector<base::Fd>& passed,
               std::vector<std::string>& passed_names) {
  for (int k = 0; k < count; ++k) {
    passed.emplace_back(SD_LISTEN_FDS_START + k);
    passed_names.emplace_back(names != nullptr && names[k] != nullptr ? names[k] : "unknown");
  }
  if (names != nullptr) {
    for (int k = 0; k < count; ++k) std::free(names[k]);
    std::free(static_cast<void*>(names));
  }
}

// Why passed socket `fd` cannot serve `listener` ("" when it can, and it is made non-blocking and
// close-on-exec).
std::string unusable(int fd, const config::ListenerConfig& listener) {
  if (listener.bind.kind == net::EndpointKind::kMessageQueue) {
    return "an mq:// listener is a message queue, not a socket";
  }
  if (std::string why = mismatch(fd, listener); !why.empty()) return why;
  if (!makeNonBlockingCloseOnExec(fd)) return fmt::format("fcntl: {}", std::strerror(errno));
  return {};
}

}  // namespace

base::Result<std::vector<base::Fd>> takeActivatedSockets(const config::Config& config) {
  std::vector<base::Fd> sockets(config.listeners.size());
  char** names = nullptr;
  // 1: unsets LISTEN_PID, LISTEN_FDS and LISTEN_FDNAMES.
  const int count = ::sd_listen_fds_with_names(1, &names);
  if (count < 0) {
    return base::sysError(-count, "sd_listen_fds_with_names").within("socket activation");
  }
  std::vector<base::Fd> passed;
  std::vector<std::string> passed_names;
  ownPassed(count, names, passed, passed_names);

  std::vector<std::string> errors;
  for (std::size_t k = 0; k < passed.size(); ++k) {
    const int fd = passed[k].get();
    const std::string& name = passed_names[k];
    std::size_t index = config.listeners.size();
    for (std::size_t i = 0; i < config.listeners.size(); ++i) {
      if (config.listeners[i].name == name) index = i;
    }
    if (index == config.listeners.size()) {
      base::logWarn(
          "socket activation: passed socket {} (fd {}, name \"{}\") matches no [[listener]] "
          "name: closed",
          k, fd, name);
      continue;
    }
    const auto& listener = config.listeners[index];
    const auto where = fmt::format("listener \"{}\" ({}): passed socket \"{}\" (fd {})",
                                   listener.name, listener.bind.url, name, fd);
    if (sockets[index]) {
      errors.push_back(fmt::format("{}: a second socket with this name", where));
      continue;
    }
    if (const std::string why = unusable(fd, listener); !why.empty()) {
      errors.push_back(fmt::format("{}: {}", where, why));
      continue;
    }
    base::logInfo("listener \"{}\" ({}): serving the socket the service manager passed (fd {}){}",
                  listener.name, listener.bind.url, fd,
                  listener.isDatagram() ? ", on worker 0" : ", on every worker");
    sockets[index] = std::move(passed[k]);
  }
  if (!errors.empty()) return base::failure(fmt::format("{}", fmt::join(errors, "\n")));
  return sockets;
}

}  // namespace l4lb::app
