#pragma once

// Map entries for the XDP load balancer tests, from the packet builder's addresses and tuples.

#include <netinet/in.h>
#include <sys/socket.h>

#include <cstdint>
#include <cstring>

#include "balance/flow_hash.h"
#include "bpf/lb_layout.h"
#include "packet_builder.h"

namespace l4lb::bpf::testing {

inline void copyAddress(__be32 (&words)[4], const Address& address) {
  std::memset(words, 0, sizeof(words));
  std::memcpy(words, address.bytes.data(), address.length());
}

inline l4lb_vip_key vipKey(const Address& address, std::uint16_t port, std::uint8_t proto) {
  l4lb_vip_key key{};
  copyAddress(key.addr, address);
  key.port = htons(port);
  key.proto = proto;
  key.family = static_cast<std::uint8_t>(address.family);
  return key;
}

inline l4lb_backend backendAt(const Address& address, std::uint8_t flags = 0) {
  l4lb_backend backend{};
  copyAddress(backend.addr, address);
  backend.family = static_cast<std::uint8_t>(address.family);
  backend.flags = flags;
  return backend;
}

inline l4lb_flow flowOf(const Tuple& tuple) {
  l4lb_flow flow{};
  copyAddress(flow.src, tuple.src);
  copyAddress(flow.dst, tuple.dst);
  flow.sport = htons(tuple.sport);
  flow.dport = htons(tuple.dport);
  flow.proto = tuple.proto;
  flow.family = static_cast<std::uint8_t>(tuple.src.family);
  return flow;
}

// The client's hash as the proxy path computes it (balance::hashClient over a sockaddr): what
// the program must agree with.
inline std::uint64_t proxyPathHash(const Tuple& tuple, bool with_port) {
  sockaddr_storage storage{};
  if (tuple.src.family == AF_INET) {
    sockaddr_in sin{};
    sin.sin_family = AF_INET;
    sin.sin_port = htons(tuple.sport);
    std::memcpy(&sin.sin_addr, tuple.src.bytes.data(), 4);
    std::memcpy(&storage, &sin, sizeof(sin));
  } else {
    sockaddr_in6 sin6{};
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(tuple.sport);
    std::memcpy(&sin6.sin6_addr, tuple.src.bytes.data(), 16);
    std::memcpy(&storage, &sin6, sizeof(sin6));
  }
  return balance::hashClient(
      reinterpret_cast<const sockaddr*>(&storage),
      with_port ? balance::HashKey::kClientIpPort : balance::HashKey::kClientIp);
}

}  // namespace l4lb::bpf::testing
