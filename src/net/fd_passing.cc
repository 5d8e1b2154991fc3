#include "net/fd_passing.h"

#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>

namespace l4lb::net {

namespace {

constexpr std::size_t kControlBytes = CMSG_SPACE(sizeof(int) * kMaxPassedFds);

// Control-message storage aligned for cmsghdr.
union ControlBuffer {
  cmsghdr align;
  std::array<std::byte, kControlBytes> bytes;
};

}  // namespace

base::Result<std::size_t> sendWithFds(int socket, std::span<const std::byte> data,
                                      std::span<const int> fds) {
  if (data.empty() || fds.size() > kMaxPassedFds) return base::sysError(EINVAL, "sendmsg");
  iovec iov{const_cast<std::byte*>(data.data()), data.size()};  // NOLINT: sendmsg only reads
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  ControlBuffer control{};
  if (!fds.empty()) {
    message.msg_control = control.bytes.data();
    message.msg_controllen = CMSG_SPACE(sizeof(int) * fds.size());
    cmsghdr* header = CMSG_FIRSTHDR(&message);
    header->cmsg_level = SOL_SOCKET;
    header->cmsg_type = SCM_RIGHTS;
    header->cmsg_len = CMSG_LEN(sizeof(int) * fds.size());
    std::memcpy(CMSG_DATA(header), fds.data(), sizeof(int) * fds.size());
  }
  while (true) {
    ssize_t sent = ::sendmsg(socket, &message, MSG_NOSIGNAL);
    if (sent >= 0) return static_cast<std::size_t>(sent);
    if (errno != EINTR) return base::lastError("sendmsg");
  }
}

base::Result<ReceivedMessage> receiveWithFds(int socket, std::span<std::byte> buffer) {
  iovec iov{buffer.data(), buffer.size()};
  msghdr message{};
  message.msg_iov = &iov;
  message.msg_iovlen = 1;
  ControlBuffer control{};
  message.msg_control = control.bytes.data();
  message.msg_controllen = sizeof(control.bytes);
  ssize_t received = -1;
  do {
    received = ::recvmsg(socket, &message, MSG_CMSG_CLOEXEC);
  } while (received < 0 && errno == EINTR);
  if (received < 0) return base::lastError("recvmsg");
  ReceivedMessage result;
  result.length = static_cast<std::size_t>(received);
  for (cmsghdr* header = CMSG_FIRSTHDR(&message); header != nullptr;
       header = CMSG_NXTHDR(&message, header)) {
    if (header->cmsg_level != SOL_SOCKET || header->cmsg_type != SCM_RIGHTS) continue;
    const std::size_t count = (header->cmsg_len - CMSG_LEN(0)) / sizeof(int);
    for (std::size_t i = 0; i < count; ++i) {
      int fd = -1;
      std::memcpy(&fd, CMSG_DATA(header) + i * sizeof(int), sizeof(int));
      result.fds.emplace_back(fd);
    }
  }
  // Truncated data or descriptors: `result` closes whatever arrived on the way out.
  if ((message.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) != 0) {
    return base::sysError(EMSGSIZE, "recvmsg");
  }
  return result;
}

}  // namespace l4lb::net
