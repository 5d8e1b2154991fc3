#include "proto/proxy_protocol.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <array>
#include <charconv>
#include <cstring>

#include "proto/wire_read.h"

namespace l4lb::proto {

namespace {

constexpr std::string_view kV1Prefix = "PROXY ";
static_assert(sizeof(sockaddr_un::sun_path) == kUnixPathBytes);

// Address block sizes per v2 family nibble: AF_UNSPEC, AF_INET, AF_INET6, AF_UNIX.
constexpr std::array<std::size_t, 4> kV2AddressBytes = {0, 12, 36, 216};
constexpr std::array<const char*, 4> kV2FamilyNames = {"AF_UNSPEC", "AF_INET", "AF_INET6",
                                                       "AF_UNIX"};

std::uint16_t readU16(std::string_view bytes, std::size_t i) {
  return static_cast<std::uint16_t>(byteAt(bytes, i) << 8 | byteAt(bytes, i + 1));
}

ProxyParseResult needMore(std::size_t wanted = 0) {
  ProxyParseResult result;
  result.wanted = wanted;
  return result;
}

ProxyParseResult fail(std::string error) {
  ProxyParseResult result;
  result.status = ProxyParseStatus::kError;
  result.error = std::move(error);
  return result;
}

// True when `bytes` could still be the start of `prefix` (or starts with it).
bool couldStartWith(std::string_view bytes, std::string_view prefix) {
  const std::size_t n = std::min(bytes.size(), prefix.size());
  return bytes.substr(0, n) == prefix.substr(0, n);
}

// --- version 1 -------------------------------------------------------------------------------

// A port: decimal 0..65535, no sign, no leading zero (spec 2.1 gives the exact form).
bool parsePort(std::string_view text, std::uint16_t& port) {
  if (text.empty() || text.size() > 5 || (text.size() > 1 && text[0] == '0')) return false;
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || value > 65535) return false;
  port = static_cast<std::uint16_t>(value);
  return true;
}

// inet_pton wants a NUL-terminated string; an IPv6 address is at most 45 characters.
bool parseIp(int family, std::string_view text, void* out) {
  char buf[INET6_ADDRSTRLEN + 1] = {};
  if (text.empty() || text.size() >= sizeof(buf)) return false;
  std::memcpy(buf, text.data(), text.size());
  return inet_pton(family, buf, out) == 1;
}

bool setInet(ProxyAddress& out, int family, std::string_view ip, std::uint16_t port) {
  if (family == AF_INET) {
    auto* sin = reinterpret_cast<sockaddr_in*>(&out.addr);
    if (!parseIp(AF_INET, ip, &sin->sin_addr)) return false;
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    out.len = sizeof(sockaddr_in);
    return true;
  }
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.addr);
  if (!parseIp(AF_INET6, ip, &sin6->sin6_addr)) return false;
  sin6->sin6_family = AF_INET6;
  sin6->sin6_port = htons(port);
  out.len = sizeof(sockaddr_in6);
  return true;
}

ProxyParseResult parseV1(std::string_view bytes) {
  const std::size_t lf = bytes.substr(0, kProxyV1MaxBytes).find('\n');
  if (lf == std::string_view::npos) {
    if (bytes.size() >= kProxyV1MaxBytes) return fail("v1 line longer than 107 bytes");
    return needMore();
  }
  if (lf == 0 || bytes[lf - 1] != '\r') return fail("v1 line ends with a bare LF");
  std::string_view line = bytes.substr(kV1Prefix.size(), lf - 1 - kV1Prefix.size());
  if (line.find('\r') != std::string_view::npos) return fail("v1 line has a stray CR");

  ProxyParseResult result;
  result.status = ProxyParseStatus::kDone;
  result.consumed = lf + 1;
  result.header.version = ProxyVersion::kV1;
  result.header.command = ProxyCommand::kProxy;

  const std::size_t space = line.find(' ');
  const std::string_view protocol = line.substr(0, space);
  if (protocol == "UNKNOWN") {
    // Spec 2.1: whatever follows UNKNOWN up to the CRLF is ignored.
    return result;
  }
  int family = AF_UNSPEC;
  if (protocol == "TCP4") family = AF_INET;
  if (protocol == "TCP6") family = AF_INET6;
  if (family == AF_UNSPEC) return fail("v1 protocol is not TCP4, TCP6 or UNKNOWN");

  std::array<std::string_view, 4> fields;
  std::string_view rest = space == std::string_view::npos ? std::string_view() : line;
  rest.remove_prefix(std::min(rest.size(), space + 1));
  for (std::size_t i = 0; i < fields.size(); ++i) {
    const std::size_t next = rest.find(' ');
    const bool last = i + 1 == fields.size();
    if (last != (next == std::string_view::npos)) {
      return fail("v1 line does not have exactly 4 fields after the protocol");
    }
    fields[i] = rest.substr(0, next);
    if (fields[i].empty()) return fail("v1 fields must be separated by single spaces");
    if (!last) rest.remove_prefix(next + 1);
  }
  std::uint16_t source_port = 0;
  std::uint16_t destination_port = 0;
  if (!parsePort(fields[2], source_port)) return fail("v1 source port is not 0..65535");
  if (!parsePort(fields[3], destination_port)) return fail("v1 destination port is not 0..65535");
  const char* what = family == AF_INET ? "IPv4" : "IPv6";
  if (!setInet(result.header.source, family, fields[0], source_port)) {
    return fail(std::string("v1 source address is not ") + what);
  }
  if (!setInet(result.header.destination, family, fields[1], destination_port)) {
    return fail(std::string("v1 destination address is not ") + what);
  }
  result.header.transport = ProxyTransport::kStream;
  return result;
}

// --- version 2 -------------------------------------------------------------------------------

void setUnix(ProxyAddress& out, std::string_view path_block) {
  auto* sun = reinterpret_cast<sockaddr_un*>(&out.addr);
  sun->sun_family = AF_UNIX;
  std::memcpy(sun->sun_path, path_block.data(), kUnixPathBytes);
  std::size_t used = kUnixPathBytes;
  while (used > 0 && path_block[used - 1] == '\0') --used;
  if (used == 0) {
    out.len = sizeof(sa_family_t);  // an unnamed socket
  } else if (path_block[0] == '\0') {
    // An abstract name: its length is not in the block, so trailing NULs are taken as padding.
    out.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + used);
  } else {
    // A path: up to its first NUL, which the address keeps as a terminator when it fits.
    const std::size_t path_len = strnlen(sun->sun_path, kUnixPathBytes);
    out.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) +
                                     std::min(path_len + 1, kUnixPathBytes));
  }
}

void setV2Addresses(ProxyHeader& header, unsigned family, std::string_view block) {
  if (family == 1) {
    auto* src = reinterpret_cast<sockaddr_in*>(&header.source.addr);
    auto* dst = reinterpret_cast<sockaddr_in*>(&header.destination.addr);
    src->sin_family = dst->sin_family = AF_INET;
    std::memcpy(&src->sin_addr, block.data(), 4);
    std::memcpy(&dst->sin_addr, block.data() + 4, 4);
    std::memcpy(&src->sin_port, block.data() + 8, 2);
    std::memcpy(&dst->sin_port, block.data() + 10, 2);
    header.source.len = header.destination.len = sizeof(sockaddr_in);
  } else if (family == 2) {
    auto* src = reinterpret_cast<sockaddr_in6*>(&header.source.addr);
    auto* dst = reinterpret_cast<sockaddr_in6*>(&header.destination.addr);
    src->sin6_family = dst->sin6_family = AF_INET6;
    std::memcpy(&src->sin6_addr, block.data(), 16);
    std::memcpy(&dst->sin6_addr, block.data() + 16, 16);
    std::memcpy(&src->sin6_port, block.data() + 32, 2);
    std::memcpy(&dst->sin6_port, block.data() + 34, 2);
    header.source.len = header.destination.len = sizeof(sockaddr_in6);
  } else if (family == 3) {
    setUnix(header.source, block.substr(0, kUnixPathBytes));
    setUnix(header.destination, block.substr(kUnixPathBytes, kUnixPathBytes));
  }
}

// Walks the TLVs of a header (`header` is the whole header, `tlvs_at` where they start) and
// checks each lies inside it: HAProxy 488ee7fb read the payload as a TLV when it did not.
std::string checkTlvs(std::string_view header, std::size_t tlvs_at,
                      const ProxyParseLimits& limits) {
  std::size_t at = tlvs_at;
  while (at < header.size()) {
    if (header.size() - at < 3) {
      return "v2 header ends inside a TLV (" + std::to_string(header.size() - at) + " stray bytes)";
    }
    const std::uint8_t type = byteAt(header, at);
    const std::size_t length = readU16(header, at + 1);
    if (length > header.size() - at - 3) {
      return "v2 TLV of type " + std::to_string(type) + " and length " + std::to_string(length) +
             " overruns the header by " + std::to_string(length - (header.size() - at - 3)) +
             " bytes";
    }
    if (type == kPp2TypeUniqueId && length > kPp2UniqueIdMaxBytes) {
      return "v2 UNIQUE_ID TLV of " + std::to_string(length) + " bytes is over 128";
    }
    if (type == kPp2TypeCrc32c) {
      if (length != 4) return "v2 CRC32C TLV has length " + std::to_string(length) + ", not 4";
      if (limits.verify_crc32c) {
        std::string copy(header);
        std::memset(copy.data() + at + 3, 0, 4);
        const std::uint32_t want =
            static_cast<std::uint32_t>(readU16(header, at + 3)) << 16 | readU16(header, at + 5);
        if (crc32c(copy) != want) return "v2 CRC32C mismatch";
      }
    }
    at += 3 + length;
  }
  return {};
}

ProxyParseResult parseV2(std::string_view bytes, const ProxyParseLimits& limits) {
  if (bytes.size() < kProxyV2HeaderBytes) return needMore(kProxyV2HeaderBytes);
  const std::uint8_t version_command = byteAt(bytes, 12);
  const std::uint8_t family_transport = byteAt(bytes, 13);
  const std::size_t length = readU16(bytes, 14);
  const std::size_t total = kProxyV2HeaderBytes + length;

  const unsigned version = version_command >> 4;
  const unsigned command = version_command & 0xf;
  if (version != 2) return fail("v2 version " + std::to_string(version) + " is not 2");
  if (command > 1) return fail("v2 command " + std::to_string(command) + " is not LOCAL or PROXY");
  if (total > limits.max_v2_bytes) {
    return fail("v2 header of " + std::to_string(total) + " bytes is over the limit of " +
                std::to_string(limits.max_v2_bytes));
  }
  // Checked before waiting for the rest, so a bad header is refused as soon as it is seen.
  const unsigned family = family_transport >> 4;
  const unsigned transport = family_transport & 0xf;
  const bool local = command == 0;
  if (!local) {
    if (family >= kV2AddressBytes.size()) {
      return fail("v2 address family " + std::to_string(family) + " is unknown");
    }
    if (transport > 2) return fail("v2 transport " + std::to_string(transport) + " is unknown");
    // Spec 2.2: only 0x00 and the families with STREAM or DGRAM exist; the rest are rejected.
    if ((family == 0) != (transport == 0)) {
      return fail("v2 family " + std::to_string(family) + " with transport " +
                  std::to_string(transport) + " is not a valid combination");
    }
    if (length < kV2AddressBytes[family]) {
      return fail("v2 address length " + std::to_string(length) + " too short for " +
                  kV2FamilyNames[family] + " (needs " + std::to_string(kV2AddressBytes[family]) +
                  ")");
    }
  }
  if (bytes.size() < total) return needMore(total);

  ProxyParseResult result;
  result.status = ProxyParseStatus::kDone;
  result.consumed = total;
  result.header.version = ProxyVersion::kV2;
  if (local) {
    // Spec 2.2: for LOCAL the receiver discards the whole block, family and TLVs included, and
    // uses the connection's own addresses; `len` is honoured all the same.
    result.header.command = ProxyCommand::kLocal;
    return result;
  }
  result.header.command = ProxyCommand::kProxy;
  result.header.transport = transport == 1 ? ProxyTransport::kStream : ProxyTransport::kDgram;
  const std::string_view header = bytes.substr(0, total);
  const std::size_t tlvs_at = kProxyV2HeaderBytes + kV2AddressBytes[family];
  if (std::string error = checkTlvs(header, tlvs_at, limits); !error.empty()) {
    return fail(std::move(error));
  }
  setV2Addresses(result.header, family, header.substr(kProxyV2HeaderBytes));
  if (family == 0) result.header.transport = ProxyTransport::kUnspec;
  result.header.tlvs = std::string(header.substr(tlvs_at));
  return result;
}

}  // namespace

ProxyParseResult parseProxyHeader(std::string_view bytes, const ProxyParseLimits& limits) {
  if (bytes.empty()) return needMore();
  if (couldStartWith(bytes, kV1Prefix)) {
    if (bytes.size() < kV1Prefix.size()) return needMore();
    return parseV1(bytes);
  }
  if (couldStartWith(bytes, kProxyV2Signature)) return parseV2(bytes, limits);
  ProxyParseResult result;
  result.status = ProxyParseStatus::kNotProxy;
  result.error = "no PROXY v1 or v2 signature";
  return result;
}

std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc) {
  static constexpr auto kTable = [] {
    std::array<std::uint32_t, 256> table{};
    for (std::uint32_t i = 0; i < 256; ++i) {
      std::uint32_t c = i;
      for (int k = 0; k < 8; ++k) c = (c & 1) != 0 ? (c >> 1) ^ 0x82f63b78u : c >> 1;
      table[i] = c;
    }
    return table;
  }();
  crc = ~crc;
  for (const char ch : bytes) {
    crc = kTable[(crc ^ static_cast<std::uint8_t>(ch)) & 0xff] ^ (crc >> 8);
  }
  return ~crc;
}

}  // namespace l4lb::proto
