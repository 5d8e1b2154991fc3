#pragma once

#include <cstddef>
#include <span>
#include <vector>

#include "base/fd.h"
#include "base/result.h"

namespace l4lb::net {

// Descriptors passed with one message over a Unix socket (SCM_RIGHTS). The kernel caps one
// message at SCM_MAX_FD (253); the binary upgrade sends a handful per message.
inline constexpr std::size_t kMaxPassedFds = 16;

// One message received with the descriptors that came with it; owning them from the start, so
// none leaks whatever the caller does next.
struct ReceivedMessage {
  std::size_t length = 0;  // bytes in the caller's buffer; 0 at EOF
  std::vector<base::Fd> fds;
};

// Sends `data` (at least one byte) with `fds` in one sendmsg. On a SOCK_SEQPACKET socket the
// message and its descriptors arrive together or not at all.
[[nodiscard]] base::Result<std::size_t> sendWithFds(int socket, std::span<const std::byte> data,
                                                    std::span<const int> fds);

// Receives one message into `buffer`. A message longer than the buffer, or carrying more than
// kMaxPassedFds descriptors, is an error (EMSGSIZE): what was truncated cannot be trusted, and
// the descriptors that did arrive are closed.
[[nodiscard]] base::Result<ReceivedMessage> receiveWithFds(int socket, std::span<std::byte> buffer);

}  // namespace l4lb::net
