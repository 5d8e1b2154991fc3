// The XDP load balancer's IPIP mode and its ICMP too-big answers, byte for byte; and the backends'
// decapsulation program on what it sends. The fixture: xdp_lb_fixture.h.

#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <set>
#include <vector>

#include "balance/packet_hash.h"
#include "bpf/decap_program.h"
#include "xdp_lb_fixture.h"

namespace l4lb::bpf::testing {
namespace {

constexpr std::uint8_t kIpipProto = 4;   // IPPROTO_IPIP: IPv4 inside
constexpr std::uint8_t kIpv6Proto = 41;  // IPPROTO_IPV6: IPv6 inside

// The outer source the program must choose for `tuple` (lb_layout.h, l4lb_encap_source_bits):
// the fixture's prefixes with their low 16 bits from the flow hash.
Address encapSource(const Tuple& tuple, bool hash_port, int outer_family) {
  const std::uint32_t bits = l4lb_encap_source_bits(proxyPathHash(tuple, hash_port), tuple.sport);
  if (outer_family == AF_INET) return ipv4FromHost((kEncapPrefix4 & 0xffff0000U) | (bits & 0xffff));
  Address source = kEncapPrefix6;
  source.bytes[14] = static_cast<std::uint8_t>(bits >> 8);
  source.bytes[15] = static_cast<std::uint8_t>(bits);
  return source;
}

std::uint32_t flowLabel(const Tuple& tuple, bool hash_port) {
  return l4lb_encap_source_bits(proxyPathHash(tuple, hash_port), tuple.sport) & 0xfffff;
}

// What IPIP mode must send: a frame to the backend's MAC with an outer header to the backend in
// front of the untouched IP packet.
Bytes encapsulated(const Tuple& tuple, const PacketOptions& options, std::uint32_t backend,
                   const Address& backend_address, bool hash_port) {
  const Bytes inner = ipPacket(tuple, options);
  const std::uint8_t proto = tuple.src.family == AF_INET ? kIpipProto : kIpv6Proto;
  const Address source = encapSource(tuple, hash_port, backend_address.family);
  Bytes outer;
  if (backend_address.family == AF_INET) {
    outer = ipv4Header(source, backend_address, proto, inner.size(), options.tos, 0x4000);
  } else {
    outer = ipv6Header(source, backend_address, proto, inner.size(), options.tos,
                       flowLabel(tuple, hash_port));
  }
  append(outer, inner);
  return frame(backendMac(backend), kLb0Mac, outer);
}

Tuple ipipTcp4(std::uint16_t sport = 40000) {
  return Tuple{kClient4, kIpipVip4, sport, 80, IPPROTO_TCP};
}
Tuple ipipTcp6(std::uint16_t sport = 40000) {
  return Tuple{kClient6, kIpipVip6, sport, 80, IPPROTO_TCP};
}
Tuple ipipUdp4(std::uint16_t sport = 40000) {
  return Tuple{kClient4, kIpipVip4, sport, 53, IPPROTO_UDP};
}
Tuple ipipUdp6(std::uint16_t sport = 40000) {
  return Tuple{kClient6, kIpipVip6, sport, 53, IPPROTO_UDP};
}

PacketOptions expedited() {  // a traffic class the outer header must carry over
  PacketOptions options;
  options.tos = 0xb8;
  return options;
}

TEST_F(XdpLbTest, IpipPutsAnOuterHeaderToTheBackendInFrontOfThePacket) {
  sendAllTo(kIpipTcp4, kV4a);
  sendAllTo(kIpipUdp4, kV4b);
  sendAllTo(kIpipTcp6, kV6a);
  sendAllTo(kIpipUdp6, kV6b);
  const struct {
    Tuple tuple;
    std::uint32_t backend;
    const char* address;
    bool hash_port;
  } cases[] = {{ipipTcp4(), kV4a, "192.0.2.11", true},
               {ipipUdp4(), kV4b, "192.0.2.12", false},
               {ipipTcp6(), kV6a, "2001:db8::11", true},
               {ipipUdp6(), kV6b, "2001:db8::12", false}};
  for (const auto& c : cases) {
    const auto out = run(toLb(c.tuple, expedited()));
    EXPECT_EQ(out.verdict, XDP_TX) << c.address;
    const Bytes expected =
        encapsulated(c.tuple, expedited(), c.backend, ip(c.address), c.hash_port);
    EXPECT_EQ(hex(out.out), hex(expected)) << c.address;
    if (c.tuple.src.family == AF_INET) {  // the outer header's checksum, recomputed
      EXPECT_EQ(internetChecksum(std::span(out.out).subspan(14, 20)), 0) << c.address;
    }
  }
}

TEST_F(XdpLbTest, IpipCarriesEitherFamilyInEither) {
  sendAllTo(kIpipTcp4, kV6c);  // IPv4 in IPv6: next header 4
  sendAllTo(kIpipTcp6, kV4c);  // IPv6 in IPv4: protocol 41
  auto out = run(toLb(ipipTcp4()));
  EXPECT_EQ(out.verdict, XDP_TX);
  EXPECT_EQ(hex(out.out), hex(encapsulated(ipipTcp4(), {}, kV6c, ip("2001:db8::13"), true)));
  out = run(toLb(ipipTcp6()));
  EXPECT_EQ(out.verdict, XDP_TX);
  EXPECT_EQ(hex(out.out), hex(encapsulated(ipipTcp6(), {}, kV4c, ip("192.0.2.13"), true)));
  EXPECT_EQ(internetChecksum(std::span(out.out).subspan(14, 20)), 0);
}

TEST_F(XdpLbTest, IpipSpreadsOuterSourcesOverOneClientsFlows) {
  sendAllTo(kIpipUdp4, kV4a);  // client-ip hashing: every flow of the client has one hash
  std::set<std::vector<std::uint8_t>> sources;
  for (std::uint16_t port = 40000; port < 40016; ++port) {
    const auto out = run(toLb(ipipUdp4(port)));
    ASSERT_EQ(out.verdict, XDP_TX);
    sources.insert(std::vector<std::uint8_t>(out.out.begin() + 26, out.out.begin() + 30));
  }
  EXPECT_EQ(sources.size(), 16U);  // the port is mixed in: 16 flows, 16 sources
}

TEST_F(XdpLbTest, TooBigForIpipIsAnsweredWithFragmentationNeeded) {
  l4lb_config config{};
  config.encap_src4 = htonl(kEncapPrefix4);
  config.mtu = 600;
  setConfig(config);
  sendAllTo(kIpipTcp4, kV4a);
  PacketOptions big;
  big.payload = 600;  // 640 bytes of IP, 660 once encapsulated
  const Bytes in = toLb(ipipTcp4(), big);
  const auto out = run(in);
  ASSERT_EQ(out.verdict, XDP_TX);

  // From the VIP back to the client, through the router it came from: ICMP 3/4 with the next
  // hop MTU 580 (600 less the outer header), quoting the IP header and 8 bytes.
  const Bytes quoted(in.begin() + 14, in.begin() + 14 + 28);
  Bytes icmp{3, 4, 0, 0, 0, 0};
  put16(icmp, 580);
  append(icmp, quoted);
  set16(icmp, 2, internetChecksum(icmp));
  Bytes answer = ipv4Header(kIpipVip4, kClient4, IPPROTO_ICMP, icmp.size(), 0, 0);
  append(answer, icmp);
  EXPECT_EQ(hex(out.out), hex(frame(kRouterMac, kLb0Mac, answer)));
  // The checksums as the client will check them: over the received bytes, zero.
  ASSERT_EQ(out.out.size(), 14U + 20 + 8 + 28);
  EXPECT_EQ(internetChecksum(std::span(out.out).subspan(14, 20)), 0);
  EXPECT_EQ(internetChecksum(std::span(out.out).subspan(34)), 0);
  EXPECT_EQ(global(L4LB_TOO_BIG_ANSWERED), 1U);

  // Without DF the sender allows fragmenting, which this path cannot do: dropped, counted.
  big.dont_fragment = false;
  EXPECT_EQ(run(toLb(ipipTcp4(), big)).verdict, XDP_DROP);
  EXPECT_EQ(global(L4LB_TOO_BIG_DROPPED), 1U);
  // One byte less than the limit goes through.
  big.dont_fragment = true;
  big.payload = 600 - 20 - 20 - 20;
  EXPECT_EQ(run(toLb(ipipTcp4(), big)).verdict, XDP_TX);
}

TEST_F(XdpLbTest, TooBigForIpipIsAnsweredWithPacketTooBigInIpv6) {
  l4lb_config config{};
  config.mtu = 1400;
  setConfig(config);
  sendAllTo(kIpipTcp6, kV6a);
  PacketOptions big;
  big.payload = 1360;  // 1420 bytes of IP, 1460 once encapsulated
  const Bytes in = toLb(ipipTcp6(), big);
  const auto out = run(in);
  ASSERT_EQ(out.verdict, XDP_TX);

  const Bytes quoted(in.begin() + 14, in.begin() + 14 + 48);
  Bytes icmp{2, 0, 0, 0};
  put32(icmp, 1360);  // 1400 less the outer IPv6 header
  append(icmp, quoted);
  set16(icmp, 2, internetChecksum(icmp, pseudoHeaderSum(kIpipVip6, kClient6, 58, icmp.size())));
  Bytes answer = ipv6Header(kIpipVip6, kClient6, 58, icmp.size(), 0);
  append(answer, icmp);
  EXPECT_EQ(hex(out.out), hex(frame(kRouterMac, kLb0Mac, answer)));
  ASSERT_EQ(out.out.size(), 14U + 40 + 8 + 48);
  const std::span<const std::uint8_t> received_icmp = std::span(out.out).subspan(54);
  EXPECT_EQ(internetChecksum(received_icmp,
                             pseudoHeaderSum(kIpipVip6, kClient6, 58, received_icmp.size())),
            0);
  EXPECT_EQ(global(L4LB_TOO_BIG_ANSWERED), 1U);
}

TEST_F(XdpLbTest, PacketTooBigNeverAnnouncesLessThanTheIpv6Minimum) {
  l4lb_config config{};
  config.mtu = 1300;  // a misconfiguration: 1260 left for the client, below IPv6's 1280
  setConfig(config);
  sendAllTo(kIpipUdp6, kV6a);
  PacketOptions big;
  big.payload = 1300;
  const auto out = run(toLb(ipipUdp6(), big));
  ASSERT_EQ(out.verdict, XDP_TX);
  ASSERT_GE(out.out.size(), 62U);
  EXPECT_EQ(out.out[54], 2);  // ICMPv6 packet too big
  EXPECT_EQ((out.out[58] << 24 | out.out[59] << 16 | out.out[60] << 8 | out.out[61]), 1280);
}

TEST_F(XdpLbTest, DsrNeverAnswersTooBig) {
  l4lb_config config{};
  config.mtu = 600;  // DSR sends the packet as it came: no size check
  setConfig(config);
  sendAllTo(kDsrTcp4, kV4a);
  PacketOptions big;
  big.payload = 1400;
  const auto out = run(toLb(tcp4(), big));
  EXPECT_EQ(out.verdict, XDP_TX);
  EXPECT_EQ(out.out, dsrOut(tcp4(), kV4a, big));
}

// The backend's side: the decapsulation program turns what IPIP mode sent into the original IP
// packet behind the same Ethernet addresses, for the kernel to deliver.
TEST_F(XdpLbTest, DecapRestoresWhatIpipSent) {
  auto decap = DecapProgram::load();
  ASSERT_TRUE(decap) << decap.error().message();
  sendAllTo(kIpipTcp4, kV4a);
  sendAllTo(kIpipUdp6, kV6a);
  sendAllTo(kIpipTcp6, kV4b);  // v6 in v4
  sendAllTo(kIpipUdp4, kV6b);  // v4 in v6
  const struct {
    Tuple tuple;
    std::uint32_t backend;
  } cases[] = {{ipipTcp4(), kV4a}, {ipipUdp6(), kV6a}, {ipipTcp6(), kV4b}, {ipipUdp4(), kV6b}};
  for (const auto& c : cases) {
    const auto sent = run(toLb(c.tuple, expedited()));
    ASSERT_EQ(sent.verdict, XDP_TX);
    const auto delivered = runXdp(decap->programFd(), sent.out, net_->lb0());
    EXPECT_EQ(delivered.verdict, XDP_PASS);
    EXPECT_EQ(hex(delivered.out),
              hex(frame(backendMac(c.backend), kLb0Mac, ipPacket(c.tuple, expedited()))));
  }
  EXPECT_EQ(decap->counter(L4LB_DECAP_V4).valueOr(0), 2U);
  EXPECT_EQ(decap->counter(L4LB_DECAP_V6).valueOr(0), 2U);
}

TEST_F(XdpLbTest, DecapPassesEverythingElseUntouched) {
  auto decap = DecapProgram::load();
  ASSERT_TRUE(decap) << decap.error().message();
  Bytes gre = ipv4Header(kClient4, ip("192.0.2.11"), 47, 20, 0, 0x4000);  // GRE: not ours
  append(gre, Bytes(20, 0));
  const Bytes inner = ipPacket(ipipTcp4(), {});
  Bytes with_options =
      ipv4Header(kClient4, ip("192.0.2.11"), kIpipProto, inner.size(), 0, 0x4000, 64, true);
  append(with_options, inner);
  const Bytes cases[] = {
      toLb(tcp4()),
      toLb(tcp6()),
      frame(kLb0Mac, kRouterMac, gre),
      frame(kLb0Mac, kRouterMac, with_options),
      ethernet(kLb0Mac, kRouterMac, 0x0806),
  };
  for (const Bytes& in : cases) {
    const auto out = runXdp(decap->programFd(), in, net_->lb0());
    EXPECT_EQ(out.verdict, XDP_PASS);
    EXPECT_EQ(out.out, in);
  }
  EXPECT_EQ(decap->counter(L4LB_DECAP_V4).valueOr(1), 0U);
}

}  // namespace
}  // namespace l4lb::bpf::testing
