#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "base/result.h"

namespace l4lb::net {

// What an endpoint URL names. Stream kinds carry connections, datagram kinds carry datagrams.
enum class EndpointKind : std::uint8_t {
  kTcp,           // tcp://1.2.3.4:80, tcp://[::1]:80, tcp://name:80
  kUnix,          // unix:///path.sock
  kUnixAbstract,  // unix://@name (Linux abstract namespace)
  kUdp,           // udp://host:port
  kUnixgram,      // unixgram:///path or unixgram://@name
  kMessageQueue,  // mq:///name
};

[[nodiscard]] bool isStream(EndpointKind kind);
[[nodiscard]] std::string_view kindName(EndpointKind kind);

// A parsed endpoint URL: the socket address to bind or connect to, and the text it came from.
struct Endpoint {
  EndpointKind kind = EndpointKind::kTcp;
  sockaddr_storage addr{};
  socklen_t addr_len = 0;
  std::string url;  // as written, for logs and as a stable backend identity

  [[nodiscard]] int family() const { return addr.ss_family; }
  [[nodiscard]] const sockaddr* sockaddrPtr() const {
    return reinterpret_cast<const sockaddr*>(&addr);
  }
  [[nodiscard]] bool isStream() const { return net::isStream(kind); }
};

// Parses an endpoint URL. Host names are resolved (first address) with getaddrinfo, so this may
// block: call it while loading config, never on the data path.
[[nodiscard]] base::Result<Endpoint> parseEndpoint(std::string_view url);

// A tcp:// or udp:// endpoint's address as text ("192.0.2.1", "::1", no brackets) and its port,
// for libraries that take a host string and a port (the admin API's HTTP server and client).
struct HostPort {
  std::string host;
  int port = 0;
};
[[nodiscard]] HostPort hostAndPort(const Endpoint& endpoint);

// "1.2.3.4:80", "[::1]:80", "/path", "@name": the address part of a socket address for logs.
[[nodiscard]] std::string formatSockaddr(const sockaddr* sa, socklen_t len);

}  // namespace l4lb::net
