#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

namespace l4lb::proxy {

// Compact storage for a client's address: IPv4, IPv6, or an (often unnamed) Unix peer.
struct ClientAddress {
  union {
    sockaddr sa;
    sockaddr_in v4;
    sockaddr_in6 v6;
  } addr{};
  socklen_t len = 0;
};

}  // namespace l4lb::proxy
