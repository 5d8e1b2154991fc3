#include "proto/proxy_protocol.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>
#include <string>
#include <string_view>

#include "net/endpoint.h"
#include "recorded_bytes.h"

namespace l4lb::proto {
namespace {

using namespace std::string_literals;

std::string formatted(const ProxyAddress& address) {
  return net::formatSockaddr(address.sockaddrPtr(), address.len);
}

ProxyAddress inet(const char* ip, std::uint16_t port) {
  ProxyAddress out;
  auto* sin = reinterpret_cast<sockaddr_in*>(&out.addr);
  auto* sin6 = reinterpret_cast<sockaddr_in6*>(&out.addr);
  if (inet_pton(AF_INET, ip, &sin->sin_addr) == 1) {
    sin->sin_family = AF_INET;
    sin->sin_port = htons(port);
    out.len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, ip, &sin6->sin6_addr) == 1) {
    sin6->sin6_family = AF_INET6;
    sin6->sin6_port = htons(port);
    out.len = sizeof(sockaddr_in6);
  }
  return out;
}

// A Unix address: "/path", "@abstract", or "" for an unnamed peer.
ProxyAddress unixAddress(std::string_view name) {
  ProxyAddress out;
  auto* sun = reinterpret_cast<sockaddr_un*>(&out.addr);
  sun->sun_family = AF_UNIX;
  if (name.empty()) {
    out.len = sizeof(sa_family_t);
    return out;
  }
  if (name[0] == '@') {
    std::memcpy(sun->sun_path + 1, name.data() + 1, name.size() - 1);
    out.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size());
    return out;
  }
  std::memcpy(sun->sun_path, name.data(), name.size());
  out.len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + name.size() + 1);
  return out;
}

std::string v2(std::string_view after_signature) {
  return std::string(kProxyV2Signature) + std::string(after_signature);
}

// Every proper prefix of a complete header asks for more (never an error, never done early).
void expectPrefixesNeedMore(std::string_view header) {
  for (std::size_t n = 0; n < header.size(); ++n) {
    const ProxyParseResult part = parseProxyHeader(header.substr(0, n));
    EXPECT_EQ(part.status, ProxyParseStatus::kNeedMore) << "prefix of " << n << " bytes";
  }
}

ProxyParseResult parseOk(std::string_view bytes) {
  ProxyParseResult result = parseProxyHeader(bytes);
  EXPECT_EQ(result.status, ProxyParseStatus::kDone) << result.error;
  return result;
}

std::string parseError(std::string_view bytes, const ProxyParseLimits& limits = {}) {
  const ProxyParseResult result = parseProxyHeader(bytes, limits);
  EXPECT_EQ(result.status, ProxyParseStatus::kError);
  EXPECT_FALSE(result.error.empty());
  return result.error;
}

TEST(ProxyProtocolTest, Crc32cCheckValue) {
  EXPECT_EQ(crc32c("123456789"), 0xe3069283u);  // the CRC-32C catalogue's check value
  EXPECT_EQ(crc32c(""), 0u);
}

// --- recorded haproxy output ---

TEST(ProxyProtocolTest, HaproxyV1Tcp4WithPayloadInTheSameRead) {
  const std::string bytes = fromHex(recorded::kHaproxyV1Tcp4);
  const ProxyParseResult r = parseOk(bytes);
  EXPECT_EQ(r.header.version, ProxyVersion::kV1);
  EXPECT_EQ(r.header.command, ProxyCommand::kProxy);
  EXPECT_EQ(r.header.transport, ProxyTransport::kStream);
  EXPECT_EQ(formatted(r.header.source), "127.0.0.1:50352");
  EXPECT_EQ(formatted(r.header.destination), "127.0.0.1:47101");
  EXPECT_EQ(bytes.substr(r.consumed), "hello\n");  // the payload is left for the next layer
  expectPrefixesNeedMore(bytes.substr(0, r.consumed));
}

TEST(ProxyProtocolTest, HaproxyV1Tcp6) {
  const std::string bytes = fromHex(recorded::kHaproxyV1Tcp6);
  const ProxyParseResult r = parseOk(bytes);
  EXPECT_EQ(formatted(r.header.source), "[::1]:56754");
  EXPECT_EQ(formatted(r.header.destination), "[::1]:47105");
  EXPECT_EQ(bytes.substr(r.consumed), "hello\n");
}

TEST(ProxyProtocolTest, HaproxyV2Tcp4) {
  const std::string bytes = fromHex(recorded::kHaproxyV2Tcp4);
  const ProxyParseResult r = parseOk(bytes);
  EXPECT_EQ(r.header.version, ProxyVersion::kV2);
  EXPECT_EQ(r.header.command, ProxyCommand::kProxy);
  EXPECT_EQ(r.header.transport, ProxyTransport::kStream);
  EXPECT_EQ(formatted(r.header.source), "127.0.0.1:52714");
  EXPECT_EQ(formatted(r.header.destination), "127.0.0.1:47102");
  EXPECT_TRUE(r.header.tlvs.empty());
  EXPECT_EQ(r.consumed, 28u);
  EXPECT_EQ(bytes.substr(r.consumed), "hello\n");
  expectPrefixesNeedMore(bytes.substr(0, r.consumed));
  // Once the fixed 16 bytes are in, the parser knows how many it wants.
  EXPECT_EQ(parseProxyHeader(std::string_view(bytes).substr(0, 16)).wanted, 28u);
}

TEST(ProxyProtocolTest, HaproxyV2TlvsWithCrc32cAndUniqueId) {
  const std::string bytes = fromHex(recorded::kHaproxyV2Tcp4Tlvs);
  const ProxyParseResult r = parseOk(bytes);
  EXPECT_EQ(formatted(r.header.source), "127.0.0.1:36184");
  EXPECT_EQ(r.consumed, 16u + 63u);
  EXPECT_EQ(bytes.substr(r.consumed), "hello\n");
  ASSERT_EQ(r.header.tlvs.size(), 63u - 12u);
  EXPECT_EQ(r.header.tlvs[0], kPp2TypeCrc32c);
  EXPECT_EQ(r.header.tlvs[7], kPp2TypeUniqueId);
  EXPECT_EQ(r.header.tlvs.substr(10), "7F000001:8D58_7F000001:B7FF_6B0568CA_0002");

  // Passing the TLVs on with the same addresses gives back haproxy's header, byte for byte.
  const std::string again = encodeProxyV2(
      r.header.source.sockaddrPtr(), r.header.source.len, r.header.destination.sockaddrPtr(),
      r.header.destination.len, ProxyTransport::kStream, r.header.tlvs);
  EXPECT_EQ(again, bytes.substr(0, r.consumed));

  std::string corrupted = bytes;
  corrupted[20] ^= 1;  // a bit of the destination address: the checksum no longer matches
  EXPECT_EQ(parseError(corrupted), "v2 CRC32C mismatch");
  ProxyParseLimits trusting;
  trusting.verify_crc32c = false;
  EXPECT_EQ(parseProxyHeader(corrupted, trusting).status, ProxyParseStatus::kDone);
}

TEST(ProxyProtocolTest, HaproxyV2Tcp6Crc32c) {
  const std::string bytes = fromHex(recorded::kHaproxyV2Tcp6Crc);
  const ProxyParseResult r = parseOk(bytes);
  EXPECT_EQ(formatted(r.header.source), "[::1]:35764");
  EXPECT_EQ(formatted(r.header.destination), "[::1]:47104");
  EXPECT_EQ(bytes.substr(r.consumed), "hello\n");
  expectPrefixesNeedMore(bytes.substr(0, r.consumed));
}

// --- spec examples (proxy-protocol.txt 2.1) ---

TEST(ProxyProtocolTest, V1SpecLongestLines) {
  const std::string tcp4 = "PROXY TCP4 255.255.255.255 255.255.255.255 65535 65535\r\n";
  EXPECT_EQ(tcp4.size(), 56u);
  EXPECT_EQ(parseOk(tcp4).consumed, 56u);
  const std::string tcp6 =
      "PROXY TCP6 ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff "
      "65535 65535\r\n";
  EXPECT_EQ(tcp6.size(), 104u);
  EXPECT_EQ(formatted(parseOk(tcp6).header.destination),
            "[ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff]:65535");
  const std::string unknown_worst =
      "PROXY UNKNOWN ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff ffff:ffff:ffff:ffff:ffff:ffff:ffff:"
      "ffff 65535 65535\r\n";
  EXPECT_EQ(unknown_worst.size(), kProxyV1MaxBytes);
  const ProxyParseResult r = parseOk(unknown_worst);
  EXPECT_EQ(r.consumed, kProxyV1MaxBytes);
  EXPECT_FALSE(r.header.hasAddresses());
  EXPECT_EQ(r.header.transport, ProxyTransport::kUnspec);
}

TEST(ProxyProtocolTest, V1Unknown) {
  const ProxyParseResult r = parseOk("PROXY UNKNOWN\r\nGET /");
  EXPECT_EQ(r.consumed, 15u);
  EXPECT_FALSE(r.header.hasAddresses());
  // Spec 2.1: whatever follows UNKNOWN on the line is ignored.
  EXPECT_EQ(parseOk("PROXY UNKNOWN junk \x01\x02\r\n").status, ProxyParseStatus::kDone);
}

TEST(ProxyProtocolTest, NotAProxyHeaderIsKnownFromTheFirstBytes) {
  EXPECT_EQ(parseProxyHeader("GET / HTTP/1.1\r\n").status, ProxyParseStatus::kNotProxy);
  EXPECT_EQ(parseProxyHeader("\x16\x03\x01").status, ProxyParseStatus::kNotProxy);
  EXPECT_EQ(parseProxyHeader("PROXZ").status, ProxyParseStatus::kNotProxy);
  EXPECT_EQ(parseProxyHeader("\r\n\r\n\0\r\nQUIT\r"s).status, ProxyParseStatus::kNotProxy);
  EXPECT_EQ(parseProxyHeader("\r\n\r\nX").status, ProxyParseStatus::kNotProxy);
  EXPECT_EQ(parseProxyHeader("PROX").status, ProxyParseStatus::kNeedMore);
  EXPECT_EQ(parseProxyHeader("").status, ProxyParseStatus::kNeedMore);
  EXPECT_FALSE(parseProxyHeader("SSH-2.0").error.empty());
  // Whatever the input, 16 bytes always decide between "PROXY header" and "not one".
  for (const std::string_view start :
       {"PROXY TCP4 1.2.3.4 ", "\r\n\r\n\0\r\nQUIT\n\x21\x11\0\x0c", "0123456789abcdefg"}) {
    EXPECT_EQ(
        parseProxyHeader(start.substr(0, kProxyDetectBytes)).status == ProxyParseStatus::kNotProxy,
        start[0] == '0');
  }
}

// --- v1 malformed (research/reliability.md 4.3 (a)) ---

TEST(ProxyProtocolTest, V1LineLongerThan107Bytes) {
  const std::string long_line = "PROXY UNKNOWN " + std::string(93, 'a');  // 107 bytes, no LF
  EXPECT_EQ(parseError(long_line), "v1 line longer than 107 bytes");
  EXPECT_EQ(parseProxyHeader(long_line.substr(0, 106)).status, ProxyParseStatus::kNeedMore);
  // Envoy V1TooLong: a 256-byte line without CRLF.
  EXPECT_EQ(parseError("PROXY " + std::string(250, '1')), "v1 line longer than 107 bytes");
  // A LF after byte 107 does not count.
  EXPECT_EQ(parseError(long_line + "\r\n"), "v1 line longer than 107 bytes");
}

TEST(ProxyProtocolTest, V1MalformedLines) {
  EXPECT_EQ(parseError("PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n"), "v1 line ends with a bare LF");
  EXPECT_EQ(parseError("PROXY TCP4 1.2.3.4\r5.6.7.8 1 2\r\n"), "v1 line has a stray CR");
  EXPECT_EQ(parseError("PROXY TCP4 1.2.3.4  5.6.7.8 1 2\r\n"),
            "v1 fields must be separated by single spaces");
  EXPECT_EQ(parseError("PROXY TCP4 1.2.3.4 5.6.7.8 1 2 \r\n"),
            "v1 line does not have exactly 4 fields after the protocol");
  EXPECT_EQ(parseError("PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n"),
            "v1 line does not have exactly 4 fields after the protocol");
  EXPECT_EQ(parseError("PROXY TCP4\r\n"),
            "v1 line does not have exactly 4 fields after the protocol");
  EXPECT_EQ(parseError("PROXY \r\n"), "v1 protocol is not TCP4, TCP6 or UNKNOWN");
  EXPECT_EQ(parseError("PROXY TCP5 1.2.3.4 5.6.7.8 1 2\r\n"),
            "v1 protocol is not TCP4, TCP6 or UNKNOWN");
  EXPECT_EQ(parseError("PROXY  TCP4 1.2.3.4 5.6.7.8 1 2\r\n"),
            "v1 protocol is not TCP4, TCP6 or UNKNOWN");
  EXPECT_EQ(parseError("PROXY UNKNOWNX\r\n"), "v1 protocol is not TCP4, TCP6 or UNKNOWN");
}

TEST(ProxyProtocolTest, V1MalformedAddressesAndPorts) {
  EXPECT_EQ(parseError("PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n"), "v1 source port is not 0..65535");
  EXPECT_EQ(parseError("PROXY TCP4 1.2.3.4 5.6.7.8 1 65536\r\n"),
            "v1 destination port is not 0..65535");
  EXPECT_EQ(parseError("PROXY TCP4 1.2.3.4 5.6.7.8 -1 2\r\n"), "v1 source port is not 0..65535");
  EXPECT_EQ(parseError("PROXY TCP4 1.2.3.4 5.6.7.8 +1 2\r\n"), "v1 source port is not 0..65535");
  EXPECT_EQ(parseError("PROXY TCP4 1.2.3.04 5.6.7.8 1 2\r\n"), "v1 source address is not IPv4");
  EXPECT_EQ(parseError("PROXY TCP4 1.2.3.4 5.6.7.256 1 2\r\n"),
            "v1 destination address is not IPv4");
  EXPECT_EQ(parseError("PROXY TCP4 ::1 5.6.7.8 1 2\r\n"), "v1 source address is not IPv4");
  EXPECT_EQ(parseError("PROXY TCP6 1.2.3.4 ::1 1 2\r\n"), "v1 source address is not IPv6");
  EXPECT_EQ(parseError("PROXY TCP6 1::2::3 ::1 1 2\r\n"), "v1 source address is not IPv6");
  EXPECT_EQ(parseError("PROXY TCP6 ::1 1:2:3:4:5:6:7:8:9 1 2\r\n"),
            "v1 destination address is not IPv6");
  // The error never quotes the input: it may end up in logs.
  EXPECT_EQ(parseError("PROXY TCP4 \x1b[31m 5.6.7.8 1 2\r\n").find('\x1b'), std::string::npos);
  EXPECT_EQ(parseOk("PROXY TCP4 0.0.0.0 5.6.7.8 0 65535\r\n").consumed, 36u);
}

// --- v2 ---

TEST(ProxyProtocolTest, V2VersionCommandFamilyTransport) {
  const std::string block(12, '\0');
  EXPECT_EQ(parseError(v2("\x11\x11\x00\x0c"s + block)), "v2 version 1 is not 2");
  EXPECT_EQ(parseError(v2("\x31\x11\x00\x0c"s + block)), "v2 version 3 is not 2");
  for (char command = 2; command <= 0xf; ++command) {
    EXPECT_EQ(parseError(v2(std::string{static_cast<char>(0x20 | command), 0x11, 0, 12} + block)),
              "v2 command " + std::to_string(command) + " is not LOCAL or PROXY");
  }
  EXPECT_EQ(parseError(v2("\x21\x41\x00\x0c"s + block)), "v2 address family 4 is unknown");
  EXPECT_EQ(parseError(v2("\x21\x13\x00\x0c"s + block)), "v2 transport 3 is unknown");
  EXPECT_EQ(parseError(v2("\x21\x10\x00\x0c"s + block)),
            "v2 family 1 with transport 0 is not a valid combination");
  EXPECT_EQ(parseError(v2("\x21\x01\x00\x00"s)),
            "v2 family 0 with transport 1 is not a valid combination");
}

// CVE-2019-14243: the address block is checked against `len` before anything is read from it.
TEST(ProxyProtocolTest, V2AddressLengthTooShort) {
  EXPECT_EQ(parseError(v2("\x21\x12\x00\x00"s)),
            "v2 address length 0 too short for AF_INET (needs 12)");
  EXPECT_EQ(parseError(v2("\x21\x21\x00\x08"s)),
            "v2 address length 8 too short for AF_INET6 (needs 36)");
  EXPECT_EQ(parseError(v2("\x21\x31\x00\x24"s)),
            "v2 address length 36 too short for AF_UNIX (needs 216)");
}

TEST(ProxyProtocolTest, V2WaitsForLenThenStopsThere) {
  const std::string header = v2("\x21\x11\x00\x0c"s + "\x0a\0\0\x01\x0a\0\0\x02\x04\xd2\x00\x50"s);
  const ProxyParseResult partial = parseProxyHeader(header.substr(0, 20));
  EXPECT_EQ(partial.status, ProxyParseStatus::kNeedMore);
  EXPECT_EQ(partial.wanted, 28u);
  // Header and payload fused in one read: the payload is not a TLV (HAProxy 488ee7fb).
  const ProxyParseResult r = parseOk(header + "\x16\x03\x01\x00\x05");
  EXPECT_EQ(r.consumed, 28u);
  EXPECT_TRUE(r.header.tlvs.empty());
  EXPECT_EQ(formatted(r.header.source), "10.0.0.1:1234");
  EXPECT_EQ(formatted(r.header.destination), "10.0.0.2:80");
}

TEST(ProxyProtocolTest, V2TlvBounds) {
  const std::string addresses(12, '\x01');
  // One TLV, ending exactly at the header's end.
  const ProxyParseResult ok =
      parseOk(v2("\x21\x11\x00\x12"s + addresses + "\x02\x00\x03"s + "a\0b"s));
  EXPECT_EQ(ok.header.tlvs, "\x02\x00\x03"s + "a\0b"s);  // binary-safe: the NUL is kept
  // A TLV overrunning `len`, even when the bytes after the header would cover it.
  EXPECT_EQ(parseError(v2("\x21\x11\x00\x12"s + addresses + "\x02\x00\x04"s + "abc" + "d")),
            "v2 TLV of type 2 and length 4 overruns the header by 1 bytes");
  // A partial TLV at the end: stray bytes.
  EXPECT_EQ(parseError(v2("\x21\x11\x00\x0e"s + addresses + "\x04\x00"s)),
            "v2 header ends inside a TLV (2 stray bytes)");
  // UNIQUE_ID is at most 128 bytes (spec 2.2.7).
  std::string unique(129, 'u');
  EXPECT_EQ(parseError(v2("\x21\x11\x00\x90"s + addresses + "\x05\x00\x81"s + unique)),
            "v2 UNIQUE_ID TLV of 129 bytes is over 128");
  unique.pop_back();
  EXPECT_EQ(parseOk(v2("\x21\x11\x00\x8f"s + addresses + "\x05\x00\x80"s + unique)).status,
            ProxyParseStatus::kDone);
  EXPECT_EQ(parseError(v2("\x21\x11\x00\x12"s + addresses + "\x03\x00\x03"s + "abc")),
            "v2 CRC32C TLV has length 3, not 4");
}

TEST(ProxyProtocolTest, V2LocalDiscardsTheBlock) {
  // LOCAL with no block (AWS NLB health checks; Envoy CVE-2024-23327).
  const ProxyParseResult bare = parseOk(v2("\x20\x00\x00\x00"s));
  EXPECT_EQ(bare.header.command, ProxyCommand::kLocal);
  EXPECT_FALSE(bare.header.hasAddresses());
  EXPECT_EQ(bare.consumed, 16u);
  // LOCAL with an address block (and junk where TLVs would be): `len` honoured, block ignored.
  const ProxyParseResult with_block = parseOk(v2("\x20\x11\x00\x0f"s + std::string(15, 'x')) + "P");
  EXPECT_EQ(with_block.header.command, ProxyCommand::kLocal);
  EXPECT_FALSE(with_block.header.hasAddresses());
  EXPECT_EQ(with_block.consumed, 31u);
  EXPECT_TRUE(with_block.header.tlvs.empty());
}

TEST(ProxyProtocolTest, V2UnspecAndSizeLimits) {
  const ProxyParseResult unspec = parseOk(v2("\x21\x00\x00\x03"s + "\x04\x00\x00"s));
  EXPECT_FALSE(unspec.header.hasAddresses());
  EXPECT_EQ(unspec.header.tlvs, "\x04\x00\x00"s);

  // len = 65535 of NOOP padding: accepted at the spec's limit, refused under a smaller cap as
  // soon as the 16 fixed bytes are seen.
  std::string big = v2("\x21\x00\xff\xff"s);
  const std::size_t noop_payload = 65535 - 3;
  big += "\x04"s + static_cast<char>(noop_payload >> 8) + static_cast<char>(noop_payload & 0xff);
  big += std::string(noop_payload, '\0');
  EXPECT_EQ(parseOk(big).consumed, kProxyV2MaxBytes);
  ProxyParseLimits nginx_like;
  nginx_like.max_v2_bytes = 4096;
  EXPECT_EQ(parseError(big.substr(0, 16), nginx_like),
            "v2 header of 65551 bytes is over the limit of 4096");
}

// --- encoders, round trips ---

TEST(ProxyProtocolTest, V1EncodeRoundTrip) {
  const ProxyAddress src4 = inet("192.0.2.1", 56324);
  const ProxyAddress dst4 = inet("198.51.100.7", 443);
  const std::string line = encodeProxyV1(src4.sockaddrPtr(), dst4.sockaddrPtr());
  EXPECT_EQ(line, "PROXY TCP4 192.0.2.1 198.51.100.7 56324 443\r\n");
  const ProxyParseResult r = parseOk(line);
  EXPECT_EQ(formatted(r.header.source), "192.0.2.1:56324");
  EXPECT_EQ(formatted(r.header.destination), "198.51.100.7:443");

  const ProxyAddress src6 = inet("2001:db8::1", 1);
  EXPECT_EQ(encodeProxyV1(src6.sockaddrPtr(), dst4.sockaddrPtr()),
            "PROXY TCP6 2001:db8::1 ::ffff:198.51.100.7 1 443\r\n");
  const ProxyAddress unix_peer = unixAddress("");
  EXPECT_EQ(encodeProxyV1(unix_peer.sockaddrPtr(), dst4.sockaddrPtr()), "PROXY UNKNOWN\r\n");
  EXPECT_EQ(encodeProxyV1(nullptr, nullptr), "PROXY UNKNOWN\r\n");
}

TEST(ProxyProtocolTest, V2EncodeRoundTripInet) {
  for (const auto& [src_ip, dst_ip] :
       {std::pair{"192.0.2.1", "198.51.100.7"}, std::pair{"2001:db8::1", "2001:db8::2"}}) {
    for (const ProxyTransport transport : {ProxyTransport::kStream, ProxyTransport::kDgram}) {
      const ProxyAddress src = inet(src_ip, 40000);
      const ProxyAddress dst = inet(dst_ip, 53);
      const std::string header =
          encodeProxyV2(src.sockaddrPtr(), src.len, dst.sockaddrPtr(), dst.len, transport);
      const ProxyParseResult r = parseOk(header);
      EXPECT_EQ(r.consumed, header.size());
      EXPECT_EQ(r.header.transport, transport);
      EXPECT_EQ(formatted(r.header.source), formatted(src));
      EXPECT_EQ(formatted(r.header.destination), formatted(dst));
    }
  }
  const ProxyAddress src4 = inet("192.0.2.1", 1);
  const ProxyAddress dst6 = inet("2001:db8::2", 2);
  const ProxyParseResult mixed = parseOk(encodeProxyV2(
      src4.sockaddrPtr(), src4.len, dst6.sockaddrPtr(), dst6.len, ProxyTransport::kStream));
  EXPECT_EQ(formatted(mixed.header.source), "[::ffff:192.0.2.1]:1");
}

TEST(ProxyProtocolTest, V2EncodeRoundTripUnix) {
  for (const std::string_view name : {"/run/app.sock", "@abstract-name", ""}) {
    const ProxyAddress client = unixAddress(name);
    const ProxyAddress listener = unixAddress("/run/l4lb.sock");
    const std::string header =
        encodeProxyV2(client.sockaddrPtr(), client.len, listener.sockaddrPtr(), listener.len,
                      ProxyTransport::kStream);
    EXPECT_EQ(header.size(), 16u + 216u);
    const ProxyParseResult r = parseOk(header);
    EXPECT_EQ(r.header.source.family(), AF_UNIX);
    EXPECT_EQ(r.header.source.len, client.len) << name;
    EXPECT_EQ(formatted(r.header.source), formatted(client));
    EXPECT_EQ(formatted(r.header.destination), "/run/l4lb.sock");
  }
  // A path using all 108 bytes has no terminator.
  ProxyAddress full = unixAddress("/" + std::string(107, 'p'));
  full.len = sizeof(sockaddr_un);
  const ProxyParseResult r = parseOk(encodeProxyV2(full.sockaddrPtr(), full.len, full.sockaddrPtr(),
                                                   full.len, ProxyTransport::kDgram));
  EXPECT_EQ(r.header.source.len, sizeof(sockaddr_un));
  EXPECT_EQ(r.header.transport, ProxyTransport::kDgram);
}

TEST(ProxyProtocolTest, V2EncodeLocalAndUnspec) {
  const std::string local = encodeProxyV2Local();
  EXPECT_EQ(local, v2("\x20\x00\x00\x00"s));
  EXPECT_EQ(parseOk(local).header.command, ProxyCommand::kLocal);
  // Addresses that are neither both IP nor both Unix: PROXY with AF_UNSPEC, never a crash.
  const ProxyAddress unix_peer = unixAddress("/a");
  const ProxyAddress ip = inet("192.0.2.1", 1);
  const std::string unspec = encodeProxyV2(unix_peer.sockaddrPtr(), unix_peer.len, ip.sockaddrPtr(),
                                           ip.len, ProxyTransport::kStream);
  EXPECT_EQ(unspec, v2("\x21\x00\x00\x00"s));
  EXPECT_EQ(encodeProxyV2(nullptr, 0, nullptr, 0, ProxyTransport::kStream), unspec);
}

TEST(ProxyProtocolTest, V2TlvsPassedOnWithCrc32cRecomputed) {
  const std::string received = fromHex(recorded::kHaproxyV2Tcp4Tlvs);
  const ProxyParseResult in = parseOk(received);
  const ProxyAddress src = inet("2001:db8::7", 5555);
  const ProxyAddress dst = inet("2001:db8::8", 443);
  const std::string sent = encodeProxyV2(src.sockaddrPtr(), src.len, dst.sockaddrPtr(), dst.len,
                                         ProxyTransport::kStream, in.header.tlvs);
  const ProxyParseResult out = parseOk(sent);  // the CRC32C checks against the new header
  EXPECT_EQ(out.header.tlvs.substr(7), in.header.tlvs.substr(7));
  EXPECT_NE(out.header.tlvs.substr(0, 7), in.header.tlvs.substr(0, 7));
  EXPECT_EQ(formatted(out.header.source), "[2001:db8::7]:5555");

  // A zeroed CRC32C TLV asks the encoder for a checksum.
  const std::string with_crc = encodeProxyV2Local("\x03\x00\x04\x00\x00\x00\x00"s);
  EXPECT_EQ(parseOk(with_crc).consumed, with_crc.size());
  EXPECT_NE(with_crc.substr(19), "\0\0\0\0"s);

  // TLVs that do not fit the 16-bit length are dropped whole; malformed tails too.
  const std::string huge_tlv = "\x04\xff\xf0"s + std::string(0xfff0, 'n');
  const ProxyAddress u = unixAddress("/x");
  const std::string trimmed = encodeProxyV2(u.sockaddrPtr(), u.len, u.sockaddrPtr(), u.len,
                                            ProxyTransport::kStream, "\x04\x00\x01z"s + huge_tlv);
  EXPECT_EQ(parseOk(trimmed).header.tlvs, "\x04\x00\x01z"s);
  EXPECT_EQ(parseOk(encodeProxyV2Local("\x04\x00\x09z"s)).header.tlvs, "");
}

}  // namespace
}  // namespace l4lb::proto
