#pragma once

// The XDP load balancer tests' fixture: the program loaded with backends, VIPs and the encap
// config below, in the namespace of xdp_test_env.h. Needs root; skipped otherwise.

#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <optional>
#include <utility>
#include <vector>

#include "bpf/lb_program.h"
#include "lb_test_maps.h"
#include "packet_builder.h"
#include "xdp_test_env.h"

namespace l4lb::bpf::testing {

// VIP ids and their listeners.
constexpr std::uint32_t kDsrTcp4 = 1;   // 203.0.113.10:80/tcp, client-ip-port
constexpr std::uint32_t kDsrUdp4 = 2;   // 203.0.113.10:53/udp, client-ip
constexpr std::uint32_t kDsrTcp6 = 3;   // [2001:db8:100::10]:80/tcp, client-ip-port
constexpr std::uint32_t kDsrUdp6 = 4;   // [2001:db8:100::10]:53/udp, client-ip
constexpr std::uint32_t kIpipTcp4 = 5;  // 203.0.113.20:80/tcp, client-ip-port
constexpr std::uint32_t kIpipTcp6 = 6;  // [2001:db8:100::20]:80/tcp, client-ip-port
constexpr std::uint32_t kIpipUdp4 = 7;  // 203.0.113.20:53/udp, client-ip
constexpr std::uint32_t kIpipUdp6 = 8;  // [2001:db8:100::20]:53/udp, client-ip

// Backend indexes (xdp_test_env.h: their MACs are 02:00:00:00:01:NN).
constexpr std::uint32_t kV4a = 1, kV4b = 2, kV4c = 3;  // 192.0.2.11..13 on lb0
constexpr std::uint32_t kV6a = 4, kV6b = 5, kV6c = 6;  // 2001:db8::11..13 on lb0
constexpr std::uint32_t kV4Far = 7;                    // 198.51.100.21 behind lb1
constexpr std::uint32_t kNoNeighbour = 9;              // 192.0.2.50: on lb0, never resolved
constexpr std::uint32_t kNoRoute = 10;                 // 10.99.0.1: no route

inline const Address kVip4 = ip("203.0.113.10");
inline const Address kVip6 = ip("2001:db8:100::10");
inline const Address kIpipVip4 = ip("203.0.113.20");
inline const Address kIpipVip6 = ip("2001:db8:100::20");
inline const Address kClient4 = ip("198.18.0.7");
inline const Address kClient6 = ip("2001:db8:ff::7");

// The encapsulation source prefixes: 172.16.0.0/16 and 2001:db8:ec::/112.
constexpr std::uint32_t kEncapPrefix4 = 0xac100000;
inline const Address kEncapPrefix6 = ip("2001:db8:ec::");

class XdpLbTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { net_ = new XdpTestNet; }
  static void TearDownTestSuite() {
    delete net_;
    net_ = nullptr;
  }

  void SetUp() override {
    if (!net_->valid()) GTEST_SKIP() << net_->why();
    auto loaded = LbProgram::load(LbLoadOptions{4096});
    ASSERT_TRUE(loaded) << loaded.error().message();
    program_.emplace(std::move(loaded).value());
    l4lb_config config{};
    config.encap_src4 = htonl(kEncapPrefix4);
    config.encap_src4_mask = htonl(0x0000ffff);
    copyAddress(config.encap_src6, kEncapPrefix6);
    config.encap_src6_mask = htonl(0x0000ffff);
    config.mtu = 1500;
    setConfig(config);
    const std::pair<std::uint32_t, const char*> backends[] = {
        {kV4a, "192.0.2.11"},      {kV4b, "192.0.2.12"},         {kV4c, "192.0.2.13"},
        {kV6a, "2001:db8::11"},    {kV6b, "2001:db8::12"},       {kV6c, "2001:db8::13"},
        {kV4Far, "198.51.100.21"}, {kNoNeighbour, "192.0.2.50"}, {kNoRoute, "10.99.0.1"}};
    for (const auto& [index, address] : backends) setBackend(index, backendAt(ip(address)));
    addVip(kDsrTcp4, kVip4, 80, IPPROTO_TCP, L4LB_VIP_HASH_PORT);
    addVip(kDsrUdp4, kVip4, 53, IPPROTO_UDP, 0);
    addVip(kDsrTcp6, kVip6, 80, IPPROTO_TCP, L4LB_VIP_HASH_PORT);
    addVip(kDsrUdp6, kVip6, 53, IPPROTO_UDP, 0);
    addVip(kIpipTcp4, kIpipVip4, 80, IPPROTO_TCP, L4LB_VIP_IPIP | L4LB_VIP_HASH_PORT);
    addVip(kIpipTcp6, kIpipVip6, 80, IPPROTO_TCP, L4LB_VIP_IPIP | L4LB_VIP_HASH_PORT);
    addVip(kIpipUdp4, kIpipVip4, 53, IPPROTO_UDP, L4LB_VIP_IPIP);
    addVip(kIpipUdp6, kIpipVip6, 53, IPPROTO_UDP, L4LB_VIP_IPIP);
  }

  void setConfig(const l4lb_config& config) {
    auto set = program_->setConfig(config);
    ASSERT_TRUE(set) << set.error().message();
  }
  void setBackend(std::uint32_t index, const l4lb_backend& backend) {
    auto set = program_->setBackend(index, backend);
    ASSERT_TRUE(set) << set.error().message();
  }
  void addVip(std::uint32_t id, const Address& address, std::uint16_t port, std::uint8_t proto,
              std::uint32_t flags) {
    auto set = program_->setVip(vipKey(address, port, proto), l4lb_vip{id, flags});
    ASSERT_TRUE(set) << set.error().message();
  }
  // A table whose every slot names `backend`: every new flow of the VIP goes there.
  void sendAllTo(std::uint32_t vip_id, std::uint32_t backend) {
    const std::vector<std::uint32_t> slots(7, backend);
    auto set = program_->setTable(vip_id, slots);
    ASSERT_TRUE(set) << set.error().message();
  }

  XdpRun run(const Bytes& in, int ingress = 0) {
    return runXdp(program_->programFd(), in, ingress ? ingress : net_->lb0());
  }
  // A frame from the client side's router to lb0.
  static Bytes toLb(const Tuple& tuple, const PacketOptions& options = {}) {
    return frame(kLb0Mac, kRouterMac, ipPacket(tuple, options));
  }
  // What L2 DSR makes of it: the same IP packet, from lb0 (or `from`) to the backend's MAC.
  static Bytes dsrOut(const Tuple& tuple, std::uint32_t backend, const PacketOptions& options = {},
                      const Mac& from = kLb0Mac) {
    return frame(backendMac(backend), from, ipPacket(tuple, options));
  }

  l4lb_counters vipCounters(std::uint32_t id) {
    auto counters = program_->vipCounters(id);
    EXPECT_TRUE(counters) << counters.error().message();
    return counters.valueOr(l4lb_counters{});
  }
  l4lb_counters backendCounters(std::uint32_t index) {
    auto counters = program_->backendCounters(index);
    EXPECT_TRUE(counters) << counters.error().message();
    return counters.valueOr(l4lb_counters{});
  }
  std::uint64_t global(l4lb_global_counter counter) {
    auto value = program_->globalCounter(counter);
    EXPECT_TRUE(value) << value.error().message();
    return value.valueOr(~0ULL);
  }

  inline static XdpTestNet* net_ = nullptr;
  std::optional<LbProgram> program_;
};

inline Tuple tcp4(std::uint16_t sport = 40000) {
  return Tuple{kClient4, kVip4, sport, 80, IPPROTO_TCP};
}
inline Tuple udp4(std::uint16_t sport = 40000) {
  return Tuple{kClient4, kVip4, sport, 53, IPPROTO_UDP};
}
inline Tuple tcp6(std::uint16_t sport = 40000) {
  return Tuple{kClient6, kVip6, sport, 80, IPPROTO_TCP};
}
inline Tuple udp6(std::uint16_t sport = 40000) {
  return Tuple{kClient6, kVip6, sport, 53, IPPROTO_UDP};
}

inline PacketOptions syn() {
  PacketOptions options;
  options.tcp_flags = testing::kTcpSyn;
  options.payload = 0;
  return options;
}

}  // namespace l4lb::bpf::testing
