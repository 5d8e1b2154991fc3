#include "upgrade/handoff_channel.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "net/fd_passing.h"

namespace l4lb::upgrade {

namespace {

// False (with `error`) when `path` cannot be a Unix socket address.
bool toAddress(const std::string& path, sockaddr_un& address, socklen_t& length,
               std::string& error) {
  address = {};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(address.sun_path)) {
    error = fmt::format("upgrade socket path \"{}\" is empty or too long", path);
    return false;
  }
  std::memcpy(address.sun_path, path.data(), path.size());
  if (path[0] == '@') address.sun_path[0] = '\0';  // abstract: no file, no NUL terminator
  length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() +
                                  (path[0] == '@' ? 0 : 1));
  return true;
}

// Waits for `events` on `fd`; false with `error` on a timeout or a poll failure.
bool waitFor(int fd, short events, std::chrono::milliseconds timeout, const char* what,
             std::string& error) {
  pollfd p{fd, events, 0};
  while (true) {
    int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (ready > 0) return true;
    if (ready == 0) {
      error = fmt::format("no {} within {} ms", what, timeout.count());
      return false;
    }
    if (errno != EINTR) {
      error = fmt::format("poll: {}", std::strerror(errno));
      return false;
    }
  }
}

// A SOCK_SEQPACKET socket and the address `path` names, for bind or connect.
base::Fd seqpacketFor(const std::string& path, sockaddr_un& address, socklen_t& length,
                      std::string& error) {
  if (!toAddress(path, address, length, error)) return {};
  base::Fd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd) error = fmt::format("socket: {}", std::strerror(errno));
  return fd;
}

}  // namespace

bool HandoffChannel::send(const HandoffMessage& message, const std::vector<int>& fds,
                          std::string& error) {
  if (fds.size() != handoffFdCount(message)) {
    error = fmt::format("a message needs {} descriptors, given {}", handoffFdCount(message),
                        fds.size());
    return false;
  }
  const std::string wire = encodeHandoff(message);
  auto sent =
      net::sendWithFds(socket_.get(), std::as_bytes(std::span(wire.data(), wire.size())), fds);
  if (!sent) {
    error = sent.error().message();
    return false;
  }
  return true;
}

std::optional<ReceivedHandoff> HandoffChannel::receive(std::chrono::milliseconds timeout,
                                                       std::string& error) {
  if (!waitFor(socket_.get(), POLLIN, timeout, "message from the other process", error)) {
    return std::nullopt;
  }
  std::vector<std::byte> buffer(kMaxMessageBytes);
  auto received = net::receiveWithFds(socket_.get(), buffer);
  if (!received) {
    error = received.error().message();
    return std::nullopt;
  }
  if (received.value().length == 0) {
    error = "the other process closed the upgrade connection";
    return std::nullopt;
  }
  auto decoded = decodeHandoff(std::span(buffer.data(), received.value().length));
  if (auto* bad = std::get_if<DecodeError>(&decoded)) {
    error = "malformed upgrade message: " + bad->reason;
    return std::nullopt;
  }
  ReceivedHandoff out{std::move(std::get<HandoffMessage>(decoded)),
                      std::move(received.value().fds)};
  if (out.fds.size() != handoffFdCount(out.message)) {
    error = fmt::format("an upgrade message came with {} descriptors instead of {}", out.fds.size(),
                        handoffFdCount(out.message));
    return std::nullopt;
  }
  return out;
}

bool HandoffChannel::peerGone() const {
  pollfd p{socket_.get(), POLLIN, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)) != 0;
}

base::Fd listenForHandoff(const std::string& path, std::string& error) {
  sockaddr_un address{};
  socklen_t length = 0;
  base::Fd fd = seqpacketFor(path, address, length, error);
  if (!fd) return {};
  if (path[0] != '@') ::unlink(path.c_str());  // a leftover of an upgrade that died
  // Only the owner (root, or the user l4lb runs as) may take the sockets over.
  const mode_t before = ::umask(0077);
  const int bound = ::bind(fd.get(), reinterpret_cast<const sockaddr*>(&address), length);
  const int bind_errno = errno;
  ::umask(before);
  if (bound != 0) {
    error = fmt::format("bind {}: {}", path, std::strerror(bind_errno));
    return {};
  }
  if (::listen(fd.get(), 1) != 0) {
    error = fmt::format("listen {}: {}", path, std::strerror(errno));
    return {};
  }
  return fd;
}

base::Fd acceptHandoff(int listening, std::chrono::milliseconds timeout, std::string& error) {
  if (!waitFor(listening, POLLIN, timeout, "connection from the new process", error)) return {};
  base::Fd fd(::accept4(listening, nullptr, nullptr, SOCK_CLOEXEC));
  if (!fd) error = fmt::format("accept: {}", std::strerror(errno));
  return fd;
}

base::Fd connectForHandoff(const std::string& path, std::string& error) {
  sockaddr_un address{};
  socklen_t length = 0;
  base::Fd fd = seqpacketFor(path, address, length, error);
  if (!fd) return {};
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&address), length) != 0) {
    error = fmt::format("connect {}: {}", path, std::strerror(errno));
    return {};
  }
  return fd;
}

}  // namespace l4lb::upgrade
