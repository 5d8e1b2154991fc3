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

// The Unix socket address `path` names, for bind or connect.
base::Result<void> toAddress(const std::string& path, sockaddr_un& address, socklen_t& length) {
  address = {};
  address.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof(address.sun_path)) {
    return base::failure(fmt::format("upgrade socket path \"{}\" is empty or too long", path));
  }
  std::memcpy(address.sun_path, path.data(), path.size());
  if (path[0] == '@') address.sun_path[0] = '\0';  // abstract: no file, no NUL terminator
  length = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + path.size() +
                                  (path[0] == '@' ? 0 : 1));
  return {};
}

// Waits for `events` on `fd`; an error on a timeout or a poll failure.
base::Result<void> waitFor(int fd, short events, std::chrono::milliseconds timeout,
                           const char* what) {
  pollfd p{fd, events, 0};
  while (true) {
    int ready = ::poll(&p, 1, static_cast<int>(timeout.count()));
    if (ready > 0) return {};
    if (ready == 0) return base::failure(fmt::format("no {} within {} ms", what, timeout.count()));
    if (errno != EINTR) return base::lastError("poll");
  }
}

// A SOCK_SEQPACKET socket and the address `path` names, for bind or connect.
base::Result<base::Fd> seqpacketFor(const std::string& path, sockaddr_un& address,
                                    socklen_t& length) {
  if (auto valid = toAddress(path, address, length); !valid) return valid.error();
  base::Fd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd) return base::lastError("socket");
  return fd;
}

}  // namespace

base::Result<void> HandoffChannel::send(const HandoffMessage& message,
                                        const std::vector<int>& fds) {
  if (fds.size() != handoffFdCount(message)) {
    return base::failure(fmt::format("a message needs {} descriptors, given {}",
                                     handoffFdCount(message), fds.size()));
  }
  const std::string wire = encodeHandoff(message);
  auto sent =
      net::sendWithFds(socket_.get(), std::as_bytes(std::span(wire.data(), wire.size())), fds);
  if (!sent) return sent.error();
  return {};
}

base::Result<ReceivedHandoff> HandoffChannel::receive(std::chrono::milliseconds timeout) {
  if (auto ready = waitFor(socket_.get(), POLLIN, timeout, "message from the other process");
      !ready) {
    return ready.error();
  }
  std::vector<std::byte> buffer(kMaxMessageBytes);
  auto received = net::receiveWithFds(socket_.get(), buffer);
  if (!received) return received.error();
  if (received->length == 0) {
    return base::failure("the other process closed the upgrade connection");
  }
  auto decoded = decodeHandoff(std::span(buffer.data(), received->length));
  if (!decoded) return decoded.error().within("malformed upgrade message");
  ReceivedHandoff out{std::move(decoded).value(), std::move(received->fds)};
  if (out.fds.size() != handoffFdCount(out.message)) {
    return base::failure(fmt::format("an upgrade message came with {} descriptors instead of {}",
                                     out.fds.size(), handoffFdCount(out.message)));
  }
  return out;
}

bool HandoffChannel::peerGone() const {
  pollfd p{socket_.get(), POLLIN, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & (POLLHUP | POLLERR)) != 0;
}

base::Result<base::Fd> listenForHandoff(const std::string& path) {
  sockaddr_un address{};
  socklen_t length = 0;
  auto fd = seqpacketFor(path, address, length);
  if (!fd) return fd.error();
  if (path[0] != '@') ::unlink(path.c_str());  // a leftover of an upgrade that died
  // Only the owner (root, or the user l4lb runs as) may take the sockets over.
  const mode_t before = ::umask(0077);
  const int bound = ::bind(fd->get(), reinterpret_cast<const sockaddr*>(&address), length);
  const int bind_errno = errno;
  ::umask(before);
  if (bound != 0) return base::sysError(bind_errno, "bind").within(path);
  if (::listen(fd->get(), 1) != 0) return base::lastError("listen").within(path);
  return fd;
}

base::Result<base::Fd> acceptHandoff(int listening, std::chrono::milliseconds timeout) {
  if (auto ready = waitFor(listening, POLLIN, timeout, "connection from the new process"); !ready) {
    return ready.error();
  }
  base::Fd fd(::accept4(listening, nullptr, nullptr, SOCK_CLOEXEC));
  if (!fd) return base::lastError("accept");
  return fd;
}

base::Result<base::Fd> connectForHandoff(const std::string& path) {
  sockaddr_un address{};
  socklen_t length = 0;
  auto fd = seqpacketFor(path, address, length);
  if (!fd) return fd.error();
  if (::connect(fd->get(), reinterpret_cast<const sockaddr*>(&address), length) != 0) {
    return base::lastError("connect").within(path);
  }
  return fd;
}

}  // namespace l4lb::upgrade
