#pragma once

// Frames for the XDP tests, built field by field here, independently of the programs under test,
// so that an expected output is the test's own statement of the wire format.

#include <arpa/inet.h>
#include <netinet/in.h>

#include <array>
#include <cstdint>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace l4lb::bpf::testing {

using Bytes = std::vector<std::uint8_t>;
using Mac = std::array<std::uint8_t, 6>;

inline constexpr std::uint8_t kTcpFin = 0x01;
inline constexpr std::uint8_t kTcpSyn = 0x02;
inline constexpr std::uint8_t kTcpAck = 0x10;
inline constexpr std::uint8_t kTcpPsh = 0x08;

struct Address {
  int family = AF_INET;
  std::array<std::uint8_t, 16> bytes{};  // IPv4: the first 4

  [[nodiscard]] std::size_t length() const { return family == AF_INET ? 4 : 16; }
  [[nodiscard]] std::span<const std::uint8_t> span() const { return {bytes.data(), length()}; }
  bool operator==(const Address&) const = default;
};

inline Address ip(const std::string& text) {
  Address address;
  address.family = text.find(':') == std::string::npos ? AF_INET : AF_INET6;
  if (inet_pton(address.family, text.c_str(), address.bytes.data()) != 1) {
    throw std::invalid_argument("not an address: " + text);
  }
  return address;
}

inline Address ipv4FromHost(std::uint32_t host_order) {
  Address address;
  for (std::size_t i = 0; i < 4; ++i) {
    address.bytes[i] = static_cast<std::uint8_t>(host_order >> (24 - 8 * i));
  }
  return address;
}

struct Tuple {
  Address src;
  Address dst;
  std::uint16_t sport = 0;
  std::uint16_t dport = 0;
  std::uint8_t proto = IPPROTO_TCP;
};

struct PacketOptions {
  std::uint8_t tcp_flags = kTcpAck | kTcpPsh;
  std::size_t payload = 32;
  std::uint8_t tos = 0;  // IPv4 TOS or IPv6 traffic class
  bool dont_fragment = true;
  bool more_fragments = false;
  std::uint16_t fragment_offset = 0;  // in 8-byte units
  bool ipv4_options = false;          // a 4-byte NOP/EOL option: IHL 6
  // An 8-byte IPv6 extension header of this type before the transport header.
  std::optional<std::uint8_t> ipv6_extension;
};

inline void put16(Bytes& out, std::uint16_t value) {
  out.push_back(static_cast<std::uint8_t>(value >> 8));
  out.push_back(static_cast<std::uint8_t>(value & 0xff));
}
inline void put32(Bytes& out, std::uint32_t value) {
  put16(out, static_cast<std::uint16_t>(value >> 16));
  put16(out, static_cast<std::uint16_t>(value & 0xffff));
}
inline void append(Bytes& out, std::span<const std::uint8_t> bytes) {
  out.insert(out.end(), bytes.begin(), bytes.end());
}
inline std::uint16_t get16(std::span<const std::uint8_t> bytes, std::size_t at) {
  return static_cast<std::uint16_t>(bytes[at] << 8 | bytes[at + 1]);
}
inline void set16(Bytes& bytes, std::size_t at, std::uint16_t value) {
  bytes[at] = static_cast<std::uint8_t>(value >> 8);
  bytes[at + 1] = static_cast<std::uint8_t>(value & 0xff);
}

// RFC 1071: the one's-complement sum of the big-endian 16-bit words, folded and inverted.
inline std::uint16_t internetChecksum(std::span<const std::uint8_t> bytes, std::uint32_t sum = 0) {
  for (std::size_t i = 0; i + 1 < bytes.size(); i += 2) sum += get16(bytes, i);
  if (bytes.size() % 2 != 0) sum += static_cast<std::uint32_t>(bytes.back() << 8);
  while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
  return static_cast<std::uint16_t>(~sum & 0xffff);
}

// The unfolded sum of the pseudo-header TCP, UDP and ICMPv6 checksums start from.
inline std::uint32_t pseudoHeaderSum(const Address& src, const Address& dst, std::uint8_t proto,
                                     std::size_t length) {
  Bytes pseudo;
  append(pseudo, src.span());
  append(pseudo, dst.span());
  if (src.family == AF_INET) {
    pseudo.push_back(0);
    pseudo.push_back(proto);
    put16(pseudo, static_cast<std::uint16_t>(length));
  } else {
    put32(pseudo, static_cast<std::uint32_t>(length));
    put16(pseudo, 0);
    pseudo.push_back(0);
    pseudo.push_back(proto);
  }
  std::uint32_t sum = 0;
  for (std::size_t i = 0; i < pseudo.size(); i += 2) sum += get16(pseudo, i);
  return sum;
}

// An IPv4 header (20 bytes, or 24 with a NOP/EOL option), checksum filled.
inline Bytes ipv4Header(const Address& src, const Address& dst, std::uint8_t proto,
                        std::size_t payload, std::uint8_t tos, std::uint16_t flags_and_offset,
                        std::uint8_t ttl = 64, bool options = false) {
  Bytes header;
  const std::size_t length = options ? 24 : 20;
  header.push_back(static_cast<std::uint8_t>(0x40 | (length / 4)));
  header.push_back(tos);
  put16(header, static_cast<std::uint16_t>(length + payload));
  put16(header, 0);  // id
  put16(header, flags_and_offset);
  header.push_back(ttl);
  header.push_back(proto);
  put16(header, 0);  // checksum, below
  append(header, src.span());
  append(header, dst.span());
  if (options) append(header, std::array<std::uint8_t, 4>{1, 1, 1, 0});  // NOP NOP NOP EOL
  set16(header, 10, internetChecksum(header));
  return header;
}

inline Bytes ipv6Header(const Address& src, const Address& dst, std::uint8_t next_header,
                        std::size_t payload, std::uint8_t traffic_class,
                        std::uint32_t flow_label = 0, std::uint8_t hop_limit = 64) {
  Bytes header;
  put32(header,
        0x60000000U | static_cast<std::uint32_t>(traffic_class) << 20 | (flow_label & 0xfffff));
  put16(header, static_cast<std::uint16_t>(payload));
  header.push_back(next_header);
  header.push_back(hop_limit);
  append(header, src.span());
  append(header, dst.span());
  return header;
}

// The IP packet (no Ethernet header) of `tuple`: TCP or UDP with a valid checksum and
// `payload` bytes counting up.
inline Bytes ipPacket(const Tuple& tuple, const PacketOptions& options = {}) {
  Bytes l4;
  put16(l4, tuple.sport);
  put16(l4, tuple.dport);
  if (tuple.proto == IPPROTO_TCP) {
    put32(l4, 1000);              // seq
    put32(l4, tuple.sport * 7U);  // ack
    l4.push_back(5 << 4);         // data offset
    l4.push_back(options.tcp_flags);
    put16(l4, 65535);  // window
    put16(l4, 0);      // checksum, below
    put16(l4, 0);      // urgent
  } else {
    put16(l4, static_cast<std::uint16_t>(8 + options.payload));
    put16(l4, 0);
  }
  for (std::size_t i = 0; i < options.payload; ++i) l4.push_back(static_cast<std::uint8_t>(i));
  const std::size_t check_at = tuple.proto == IPPROTO_TCP ? 16 : 6;
  std::uint16_t check =
      internetChecksum(l4, pseudoHeaderSum(tuple.src, tuple.dst, tuple.proto, l4.size()));
  if (tuple.proto == IPPROTO_UDP && check == 0) check = 0xffff;
  set16(l4, check_at, check);

  Bytes packet;
  if (tuple.src.family == AF_INET) {
    std::uint16_t flags = options.fragment_offset;
    if (options.dont_fragment) flags |= 0x4000;
    if (options.more_fragments) flags |= 0x2000;
    packet = ipv4Header(tuple.src, tuple.dst, tuple.proto, l4.size(), options.tos, flags, 64,
                        options.ipv4_options);
  } else if (options.ipv6_extension) {
    // One 8-byte extension header (hop-by-hop, destination options, fragment...) before L4.
    packet = ipv6Header(tuple.src, tuple.dst, *options.ipv6_extension, l4.size() + 8, options.tos);
    packet.push_back(tuple.proto);
    for (int i = 0; i < 7; ++i) packet.push_back(0);
  } else {
    packet = ipv6Header(tuple.src, tuple.dst, tuple.proto, l4.size(), options.tos);
  }
  append(packet, l4);
  return packet;
}

inline Bytes ethernet(const Mac& dst, const Mac& src, std::uint16_t type) {
  Bytes header(dst.begin(), dst.end());
  append(header, src);
  put16(header, type);
  return header;
}

// An Ethernet frame around an IP packet, its EtherType from the IP version.
inline Bytes frame(const Mac& dst, const Mac& src, std::span<const std::uint8_t> ip_packet) {
  Bytes out = ethernet(dst, src, (ip_packet[0] >> 4) == 4 ? 0x0800 : 0x86dd);
  append(out, ip_packet);
  return out;
}

inline std::string hex(std::span<const std::uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string text;
  for (std::size_t i = 0; i < bytes.size(); ++i) {
    if (i > 0 && i % 2 == 0) text += (i % 16 == 0) ? '\n' : ' ';
    text += kDigits[bytes[i] >> 4];
    text += kDigits[bytes[i] & 0xf];
  }
  return text;
}

}  // namespace l4lb::bpf::testing
