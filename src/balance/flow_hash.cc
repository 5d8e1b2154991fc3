#include "balance/flow_hash.h"

#include <netinet/in.h>

#include <array>
#include <cstring>

#include "balance/packet_hash.h"

namespace l4lb::balance {
namespace {

// What every client without an IP address (AF_UNIX, or no address at all) hashes to.
constexpr std::uint64_t kNoAddressHash = 0;

// ::ffff:a.b.c.d, how a dual-stack listener sees an IPv4 client.
bool isV4Mapped(const in6_addr& addr) {
  static constexpr std::array<std::uint8_t, 12> kPrefix = {0, 0, 0, 0, 0,    0,
                                                           0, 0, 0, 0, 0xff, 0xff};
  return std::memcmp(addr.s6_addr, kPrefix.data(), kPrefix.size()) == 0;
}

}  // namespace

std::optional<HashKey> parseHashKey(std::string_view name) {
  if (name == "client-ip") return HashKey::kClientIp;
  if (name == "client-ip-port") return HashKey::kClientIpPort;
  return std::nullopt;
}

std::string_view hashKeyName(HashKey key) {
  switch (key) {
    case HashKey::kClientIp: return "client-ip";
    case HashKey::kClientIpPort: return "client-ip-port";
  }
  return "unknown";
}

std::uint64_t hashClient(const sockaddr* client, HashKey key) {
  if (client == nullptr) return kNoAddressHash;
  // The key is the address bytes in network order (4 for IPv4 and IPv4-mapped IPv6, so a client
  // hashes alike on v4 and dual-stack listeners; 16 for IPv6), then for client-ip-port the port,
  // also in network order: packet_hash.h, the function the XDP program computes too. Copied out
  // with memcpy: `client` need not be aligned for sockaddr_in6.
  std::array<std::uint8_t, 16> address{};
  std::uint32_t length = 0;
  in_port_t port = 0;
  switch (client->sa_family) {
    case AF_INET: {
      sockaddr_in sin{};
      std::memcpy(&sin, client, sizeof(sin));
      std::memcpy(address.data(), &sin.sin_addr, 4);
      length = 4;
      port = sin.sin_port;
      break;
    }
    case AF_INET6: {
      sockaddr_in6 sin6{};
      std::memcpy(&sin6, client, sizeof(sin6));
      if (isV4Mapped(sin6.sin6_addr)) {
        std::memcpy(address.data(), sin6.sin6_addr.s6_addr + 12, 4);
        length = 4;
      } else {
        std::memcpy(address.data(), sin6.sin6_addr.s6_addr, 16);
        length = 16;
      }
      port = sin6.sin6_port;
      break;
    }
    default: return kNoAddressHash;
  }
  return l4lb_client_hash(address.data(), length, ntohs(port), key == HashKey::kClientIpPort);
}

}  // namespace l4lb::balance
