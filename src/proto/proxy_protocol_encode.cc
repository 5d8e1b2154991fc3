// The PROXY protocol encoders, the v1 line and the v2 header (send_proxy); the parser is in
// proxy_protocol.cc, and the tests round-trip the two.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <array>
#include <cstring>

#include "proto/proxy_protocol.h"
#include "proto/wire_read.h"

namespace l4lb::proto {

namespace {

static_assert(sizeof(sockaddr_un::sun_path) == kUnixPathBytes);

// An IPv4 address as ::ffff:a.b.c.d, for a header whose other address is IPv6.
sockaddr_in6 mapToV6(const sockaddr_in& v4) {
  sockaddr_in6 v6{};
  v6.sin6_family = AF_INET6;
  v6.sin6_port = v4.sin_port;
  v6.sin6_addr.s6_addr[10] = 0xff;
  v6.sin6_addr.s6_addr[11] = 0xff;
  std::memcpy(&v6.sin6_addr.s6_addr[12], &v4.sin_addr, 4);
  return v6;
}

bool isIp(const sockaddr* sa) {
  return sa != nullptr && (sa->sa_family == AF_INET || sa->sa_family == AF_INET6);
}

// Both addresses as IPv4, or both as IPv6. False when they are not both IP.
bool sameIpFamily(const sockaddr* source, const sockaddr* destination, sockaddr_in6& src6,
                  sockaddr_in6& dst6, bool& v4) {
  if (!isIp(source) || !isIp(destination)) return false;
  v4 = source->sa_family == AF_INET && destination->sa_family == AF_INET;
  if (v4) return true;
  src6 = source->sa_family == AF_INET ? mapToV6(*reinterpret_cast<const sockaddr_in*>(source))
                                      : *reinterpret_cast<const sockaddr_in6*>(source);
  dst6 = destination->sa_family == AF_INET
             ? mapToV6(*reinterpret_cast<const sockaddr_in*>(destination))
             : *reinterpret_cast<const sockaddr_in6*>(destination);
  return true;
}

void appendBytes(std::string& out, const void* data, std::size_t n) {
  out.append(static_cast<const char*>(data), n);
}

void appendUnixPath(std::string& out, const sockaddr* sa, socklen_t len) {
  std::array<char, kUnixPathBytes> block{};
  const std::size_t offset = offsetof(sockaddr_un, sun_path);
  if (len > offset) {
    const std::size_t n = std::min<std::size_t>(len - offset, kUnixPathBytes);
    std::memcpy(block.data(), reinterpret_cast<const sockaddr_un*>(sa)->sun_path, n);
  }
  out.append(block.data(), block.size());
}

// The header for family nibble `family` with `address_block`, then the TLVs that fit.
std::string buildV2(std::uint8_t version_command, std::uint8_t family_transport,
                    std::string_view address_block, std::string_view tlvs) {
  std::size_t tlv_bytes = 0;  // whole, well-formed TLVs that fit in the 16-bit length
  while (tlv_bytes + 3 <= tlvs.size()) {
    const std::size_t next = tlv_bytes + 3 + read16(tlvs, tlv_bytes + 1);
    if (next > tlvs.size() || address_block.size() + next > 65535) break;
    tlv_bytes = next;
  }
  const std::size_t length = address_block.size() + tlv_bytes;
  std::string out;
  out.reserve(kProxyV2HeaderBytes + length);
  out.append(kProxyV2Signature);
  out.push_back(static_cast<char>(version_command));
  out.push_back(static_cast<char>(family_transport));
  out.push_back(static_cast<char>(length >> 8));
  out.push_back(static_cast<char>(length & 0xff));
  out.append(address_block);
  const std::size_t tlvs_at = out.size();
  out.append(tlvs.substr(0, tlv_bytes));
  // A CRC32C TLV covers the whole header with its own value zeroed (spec 2.2.5).
  for (std::size_t at = tlvs_at; at + 3 <= out.size(); at += 3 + read16(out, at + 1)) {
    if (byteAt(out, at) != kPp2TypeCrc32c || read16(out, at + 1) != 4) continue;
    std::memset(out.data() + at + 3, 0, 4);
    const std::uint32_t crc = crc32c(out);
    for (int i = 0; i < 4; ++i) out[at + 3 + i] = static_cast<char>(crc >> (24 - 8 * i));
  }
  return out;
}

}  // namespace

std::string encodeProxyV1(const sockaddr* source, const sockaddr* destination) {
  sockaddr_in6 src6{};
  sockaddr_in6 dst6{};
  bool v4 = false;
  if (!sameIpFamily(source, destination, src6, dst6, v4)) return "PROXY UNKNOWN\r\n";
  char src_text[INET6_ADDRSTRLEN] = {};
  char dst_text[INET6_ADDRSTRLEN] = {};
  unsigned src_port = 0;
  unsigned dst_port = 0;
  if (v4) {
    const auto* src = reinterpret_cast<const sockaddr_in*>(source);
    const auto* dst = reinterpret_cast<const sockaddr_in*>(destination);
    inet_ntop(AF_INET, &src->sin_addr, src_text, sizeof(src_text));
    inet_ntop(AF_INET, &dst->sin_addr, dst_text, sizeof(dst_text));
    src_port = ntohs(src->sin_port);
    dst_port = ntohs(dst->sin_port);
  } else {
    inet_ntop(AF_INET6, &src6.sin6_addr, src_text, sizeof(src_text));
    inet_ntop(AF_INET6, &dst6.sin6_addr, dst_text, sizeof(dst_text));
    src_port = ntohs(src6.sin6_port);
    dst_port = ntohs(dst6.sin6_port);
  }
  std::string line = v4 ? "PROXY TCP4 " : "PROXY TCP6 ";
  line += src_text;
  line += ' ';
  line += dst_text;
  line += ' ';
  line += std::to_string(src_port);
  line += ' ';
  line += std::to_string(dst_port);
  line += "\r\n";
  return line;
}

std::string encodeProxyV2(const sockaddr* source, socklen_t source_len, const sockaddr* destination,
                          socklen_t destination_len, ProxyTransport transport,
                          std::string_view tlvs) {
  constexpr std::uint8_t kProxyCommand = 0x21;
  const std::uint8_t transport_nibble = transport == ProxyTransport::kDgram ? 2 : 1;
  std::string block;
  sockaddr_in6 src6{};
  sockaddr_in6 dst6{};
  bool v4 = false;
  if (sameIpFamily(source, destination, src6, dst6, v4)) {
    if (v4) {
      const auto* src = reinterpret_cast<const sockaddr_in*>(source);
      const auto* dst = reinterpret_cast<const sockaddr_in*>(destination);
      appendBytes(block, &src->sin_addr, 4);
      appendBytes(block, &dst->sin_addr, 4);
      appendBytes(block, &src->sin_port, 2);
      appendBytes(block, &dst->sin_port, 2);
      return buildV2(kProxyCommand, 0x10 | transport_nibble, block, tlvs);
    }
    appendBytes(block, &src6.sin6_addr, 16);
    appendBytes(block, &dst6.sin6_addr, 16);
    appendBytes(block, &src6.sin6_port, 2);
    appendBytes(block, &dst6.sin6_port, 2);
    return buildV2(kProxyCommand, 0x20 | transport_nibble, block, tlvs);
  }
  if (source != nullptr && destination != nullptr && source->sa_family == AF_UNIX &&
      destination->sa_family == AF_UNIX) {
    appendUnixPath(block, source, source_len);
    appendUnixPath(block, destination, destination_len);
    return buildV2(kProxyCommand, 0x30 | transport_nibble, block, tlvs);
  }
  return buildV2(kProxyCommand, 0x00, {}, tlvs);
}

std::string encodeProxyV2Local(std::string_view tlvs) { return buildV2(0x20, 0x00, {}, tlvs); }

}  // namespace l4lb::proto
