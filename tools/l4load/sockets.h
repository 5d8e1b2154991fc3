// Addresses and the few socket helpers l4load's client and server share.
#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/fd.h"

namespace l4load {

using l4lb::base::Fd;

struct Address {
  sockaddr_storage storage{};
  socklen_t length = 0;
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
};

// "1.2.3.4:80", "[::1]:80", or with port 0 for a source address ("1.2.3.4", "[::1]").
std::optional<Address> parseAddress(std::string_view text, bool port_required = true);
std::string formatAddress(const Address& address);

// Milliseconds on CLOCK_MONOTONIC (Python's time.monotonic() * 1000).
std::uint64_t monotonicMs();

// A non-blocking, close-on-exec socket, or an invalid Fd with errno set. Datagram sockets get
// a 4 MiB receive buffer (forced as root), so a burst the test's own process is too busy to read
// is not dropped at its socket and mistaken for a datagram the proxy lost.
Fd makeSocket(int family, int type);

}  // namespace l4load
