#include "net/endpoint.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <charconv>
#include <cstddef>
#include <cstring>

namespace l4lb::net {

bool isStream(EndpointKind kind) {
  return kind == EndpointKind::kTcp || kind == EndpointKind::kUnix ||
         kind == EndpointKind::kUnixAbstract;
}

std::string_view kindName(EndpointKind kind) {
  switch (kind) {
    case EndpointKind::kTcp: return "tcp";
    case EndpointKind::kUnix: return "unix";
    case EndpointKind::kUnixAbstract: return "unix-abstract";
    case EndpointKind::kUdp: return "udp";
    case EndpointKind::kUnixgram: return "unixgram";
    case EndpointKind::kMessageQueue: return "mq";
  }
  return "?";
}

namespace {

base::Error fail(std::string_view url, std::string_view why) {
  return base::failure("invalid address \"" + std::string(url) + "\": " + std::string(why));
}

base::Result<Endpoint> parseUnix(std::string_view url, std::string_view rest, bool datagram) {
  Endpoint ep;
  ep.url = std::string(url);
  auto* sun = reinterpret_cast<sockaddr_un*>(&ep.addr);
  sun->sun_family = AF_UNIX;
  if (!rest.empty() && rest.front() == '@') {
    std::string_view name = rest.substr(1);
    if (name.empty()) return fail(url, "abstract socket name is empty");
    if (name.size() + 1 > sizeof(sun->sun_path)) return fail(url, "socket name too long");
    // Abstract names start with a NUL byte and are not NUL-terminated; the length says where
    // they end.
    sun->sun_path[0] = '\0';
    std::memcpy(sun->sun_path + 1, name.data(), name.size());
    ep.addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
    ep.kind = datagram ? EndpointKind::kUnixgram : EndpointKind::kUnixAbstract;
    return ep;
  }
  if (rest.empty() || rest.front() != '/') {
    return fail(url, "expected an absolute path (unix:///path) or an abstract name (unix://@name)");
  }
  if (rest.size() + 1 > sizeof(sun->sun_path)) return fail(url, "socket path too long");
  std::memcpy(sun->sun_path, rest.data(), rest.size());
  sun->sun_path[rest.size()] = '\0';
  ep.addr_len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + rest.size() + 1);
  ep.kind = datagram ? EndpointKind::kUnixgram : EndpointKind::kUnix;
  return ep;
}

base::Result<Endpoint> parseInet(std::string_view url, std::string_view rest, EndpointKind kind) {
  std::string_view host;
  std::string_view port_text;
  if (!rest.empty() && rest.front() == '[') {
    size_t close = rest.find(']');
    if (close == std::string_view::npos) return fail(url, "missing ']' after IPv6 address");
    host = rest.substr(1, close - 1);
    if (close + 1 >= rest.size() || rest[close + 1] != ':') return fail(url, "missing :port");
    port_text = rest.substr(close + 2);
  } else {
    size_t colon = rest.rfind(':');
    if (colon == std::string_view::npos) return fail(url, "missing :port");
    host = rest.substr(0, colon);
    port_text = rest.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return fail(url, "IPv6 addresses must be in brackets, e.g. tcp://[::1]:80");
    }
  }
  if (host.empty()) return fail(url, "missing host");
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (port_text.empty() || ec != std::errc() || end != port_text.data() + port_text.size() ||
      port > 65535) {
    return fail(url, "port must be a number from 0 to 65535");
  }

  Endpoint ep;
  ep.url = std::string(url);
  ep.kind = kind;
  std::string host_str(host);
  auto* sin = reinterpret_cast<sockaddr_in*>(&ep.addr);
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&ep.addr);
  if (inet_pton(AF_INET, host_str.c_str(), &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    sin->sin_port = htons(static_cast<uint16_t>(port));
    ep.addr_len = sizeof(sockaddr_in);
    return ep;
  }
  if (inet_pton(AF_INET6, host_str.c_str(), &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(static_cast<uint16_t>(port));
    ep.addr_len = sizeof(sockaddr_in6);
    return ep;
  }
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = kind == EndpointKind::kUdp ? SOCK_DGRAM : SOCK_STREAM;
  addrinfo* found = nullptr;
  int rc = getaddrinfo(host_str.c_str(), nullptr, &hints, &found);
  if (rc != 0 || found == nullptr) {
    return fail(url, std::string("cannot resolve host: ") + gai_strerror(rc));
  }
  std::memcpy(&ep.addr, found->ai_addr, found->ai_addrlen);
  ep.addr_len = found->ai_addrlen;
  freeaddrinfo(found);
  if (ep.addr.ss_family == AF_INET) {
    sin->sin_port = htons(static_cast<uint16_t>(port));
  } else {
    sin6->sin6_port = htons(static_cast<uint16_t>(port));
  }
  return ep;
}

}  // namespace

base::Result<Endpoint> parseEndpoint(std::string_view url) {
  size_t sep = url.find("://");
  if (sep == std::string_view::npos) {
    return fail(url, "expected scheme://address (tcp://, udp://, unix://, unixgram://, mq://)");
  }
  std::string_view scheme = url.substr(0, sep);
  std::string_view rest = url.substr(sep + 3);
  if (scheme == "tcp") return parseInet(url, rest, EndpointKind::kTcp);
  if (scheme == "udp") return parseInet(url, rest, EndpointKind::kUdp);
  if (scheme == "unix") return parseUnix(url, rest, false);
  if (scheme == "unixgram") return parseUnix(url, rest, true);
  if (scheme == "mq") {
    if (rest.size() < 2 || rest.front() != '/' || rest.find('/', 1) != std::string_view::npos) {
      return fail(url, "expected mq:///name (one path component)");
    }
    Endpoint ep;
    ep.url = std::string(url);
    ep.kind = EndpointKind::kMessageQueue;
    return ep;
  }
  return fail(url, "unknown scheme \"" + std::string(scheme) +
                       "\" (expected tcp, udp, unix, unixgram or mq)");
}

HostPort hostAndPort(const Endpoint& endpoint) {
  char host[INET6_ADDRSTRLEN] = {};
  if (endpoint.family() == AF_INET6) {
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&endpoint.addr);
    ::inet_ntop(AF_INET6, &sin6->sin6_addr, host, sizeof(host));
    return HostPort{host, ntohs(sin6->sin6_port)};
  }
  const auto* sin = reinterpret_cast<const sockaddr_in*>(&endpoint.addr);
  ::inet_ntop(AF_INET, &sin->sin_addr, host, sizeof(host));
  return HostPort{host, ntohs(sin->sin_port)};
}

std::string formatSockaddr(const sockaddr* sa, socklen_t len) {
  char buf[INET6_ADDRSTRLEN] = {};
  switch (sa->sa_family) {
    case AF_INET: {
      const auto* sin = reinterpret_cast<const sockaddr_in*>(sa);
      inet_ntop(AF_INET, &sin->sin_addr, buf, sizeof(buf));
      return std::string(buf) + ":" + std::to_string(ntohs(sin->sin_port));
    }
    case AF_INET6: {
      const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(sa);
      inet_ntop(AF_INET6, &sin6->sin6_addr, buf, sizeof(buf));
      return "[" + std::string(buf) + "]:" + std::to_string(ntohs(sin6->sin6_port));
    }
    case AF_UNIX: {
      const auto* sun = reinterpret_cast<const sockaddr_un*>(sa);
      size_t path_len =
          len > offsetof(sockaddr_un, sun_path) ? len - offsetof(sockaddr_un, sun_path) : 0;
      if (path_len == 0) return "unix:unnamed";
      if (sun->sun_path[0] == '\0') return "@" + std::string(sun->sun_path + 1, path_len - 1);
      return std::string(sun->sun_path, strnlen(sun->sun_path, path_len));
    }
    default: return "unknown-family";
  }
}

}  // namespace l4lb::net
