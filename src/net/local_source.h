#pragma once

#include <sys/socket.h>

#include <optional>
#include <string_view>

#include "base/result.h"

namespace l4lb::net {

// The address a connection or flow to a backend is sent from, when not the kernel's choice: a
// fixed address of this host (nginx's `proxy_bind ADDRESS`, HAProxy's `source ADDRESS`), or the
// client's own (transparent: nginx's `proxy_bind $remote_addr transparent`, HAProxy's `usesrc
// clientip`), so the backend sees the client without PROXY protocol. The port is always the
// kernel's pick: reusing the client's port would collide with the client's own connections.
struct LocalSource {
  sockaddr_storage addr{};
  socklen_t len = 0;         // 0: no source, the kernel chooses
  bool transparent = false;  // IP_TRANSPARENT: `addr` need not be this host's (a client's)

  [[nodiscard]] bool empty() const { return len == 0; }
};

// An IP literal ("198.51.100.1", "2001:db8::1", "[2001:db8::1]") as a source, port 0.
[[nodiscard]] std::optional<LocalSource> parseSourceAddress(std::string_view text);

// The client's address `client` as the transparent source of a socket of `family` (AF_INET or
// AF_INET6), port 0. An IPv4-mapped IPv6 client ("::ffff:192.0.2.7") counts as IPv4. EAFNOSUPPORT
// (op "source") when the families differ: an IPv4 client cannot be the source of an IPv6
// connection, and a Unix client has no address to lend.
[[nodiscard]] base::Result<LocalSource> clientSource(const sockaddr* client, socklen_t len,
                                                     int family);

// Binds `fd` (a new socket of `family` and `type`, SOCK_STREAM or SOCK_DGRAM) to `source`:
// IP_TRANSPARENT (or IPV6_TRANSPARENT) first when asked, and for a stream the port is left to
// connect(2) (IP_BIND_ADDRESS_NO_PORT), so one source address can carry as many connections as
// there are distinct destinations. Nothing to do for an empty source.
[[nodiscard]] base::Result<void> bindSource(int fd, int family, int type,
                                            const LocalSource& source);

// Whether this process may use a fixed source address (one of this host's: EADDRNOTAVAIL if not),
// or transparent sources of `family` (IP_TRANSPARENT needs CAP_NET_RAW or CAP_NET_ADMIN: EPERM),
// tried on a throwaway socket. Checked when a config is applied, so a missing address or
// capability refuses the config instead of failing every connection.
[[nodiscard]] base::Result<void> trySource(const LocalSource& source);
[[nodiscard]] base::Result<void> tryTransparent(int family);

}  // namespace l4lb::net
