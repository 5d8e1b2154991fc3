#include "net/local_source.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <cstring>
#include <string>

#include "base/fd.h"

namespace l4lb::net {

namespace {

void clearPort(sockaddr_storage& addr) {
  if (addr.ss_family == AF_INET) reinterpret_cast<sockaddr_in*>(&addr)->sin_port = 0;
  if (addr.ss_family == AF_INET6) reinterpret_cast<sockaddr_in6*>(&addr)->sin6_port = 0;
}

base::Result<void> setTransparent(int fd, int family) {
  int one = 1;
  const bool v6 = family == AF_INET6;
  if (::setsockopt(fd, v6 ? IPPROTO_IPV6 : IPPROTO_IP, v6 ? IPV6_TRANSPARENT : IP_TRANSPARENT, &one,
                   sizeof(one)) != 0) {
    return base::lastError(v6 ? "setsockopt(IPV6_TRANSPARENT)" : "setsockopt(IP_TRANSPARENT)");
  }
  return {};
}

}  // namespace

std::optional<LocalSource> parseSourceAddress(std::string_view text) {
  if (text.size() >= 2 && text.front() == '[' && text.back() == ']') {
    text = text.substr(1, text.size() - 2);
  }
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string literal(text);
  LocalSource source;
  auto* v4 = reinterpret_cast<sockaddr_in*>(&source.addr);
  if (::inet_pton(AF_INET, literal.c_str(), &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    source.len = sizeof(sockaddr_in);
    return source;
  }
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&source.addr);
  if (::inet_pton(AF_INET6, literal.c_str(), &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    source.len = sizeof(sockaddr_in6);
    return source;
  }
  return std::nullopt;
}

base::Result<LocalSource> clientSource(const sockaddr* client, socklen_t len, int family) {
  LocalSource source;
  source.transparent = true;
  const sa_family_t client_family = len >= sizeof(sa_family_t) ? client->sa_family : AF_UNSPEC;
  if (client_family == AF_INET && family == AF_INET && len >= sizeof(sockaddr_in)) {
    std::memcpy(&source.addr, client, sizeof(sockaddr_in));
    source.len = sizeof(sockaddr_in);
  } else if (client_family == AF_INET6 && len >= sizeof(sockaddr_in6)) {
    const auto* v6 = reinterpret_cast<const sockaddr_in6*>(client);
    if (family == AF_INET6) {
      std::memcpy(&source.addr, client, sizeof(sockaddr_in6));
      source.len = sizeof(sockaddr_in6);
    } else if (family == AF_INET && IN6_IS_ADDR_V4MAPPED(&v6->sin6_addr)) {
      auto* v4 = reinterpret_cast<sockaddr_in*>(&source.addr);
      v4->sin_family = AF_INET;
      std::memcpy(&v4->sin_addr, &v6->sin6_addr.s6_addr[12], sizeof(v4->sin_addr));
      source.len = sizeof(sockaddr_in);
    }
  }
  if (source.len == 0) return base::sysError(EAFNOSUPPORT, "source");
  clearPort(source.addr);
  return source;
}

base::Result<void> bindSource(int fd, int family, int type, const LocalSource& source) {
  if (source.empty()) return {};
  if (source.addr.ss_family != family) return base::sysError(EAFNOSUPPORT, "bind(source)");
  if (source.transparent) {
    if (auto set = setTransparent(fd, family); !set) return set;
  }
  int one = 1;
  // Best effort: without it (old kernels) bind picks the port, which only limits how many
  // connections one source address can carry.
  if (type == SOCK_STREAM) {
    ::setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof(one));
  }
  if (::bind(fd, reinterpret_cast<const sockaddr*>(&source.addr), source.len) != 0) {
    return base::lastError("bind(source)");
  }
  return {};
}

base::Result<void> trySource(const LocalSource& source) {
  if (source.empty()) return {};
  const int family = source.addr.ss_family;
  base::Fd fd(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return base::lastError("socket");
  return bindSource(fd.get(), family, SOCK_DGRAM, source);
}

base::Result<void> tryTransparent(int family) {
  base::Fd fd(::socket(family, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return base::lastError("socket");
  return setTransparent(fd.get(), family);
}

}  // namespace l4lb::net
