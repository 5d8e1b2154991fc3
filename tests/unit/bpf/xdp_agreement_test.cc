// The C++ side and the XDP program agree on every flow's backend: the program, run by the kernel
// on 100,000 random tuples, sends each where balance::hashClient (the proxy path's hash, built on
// balance/packet_hash.h) and a balance::MaglevTable say it goes. The backend is read from the
// program's output: the outer destination (IPIP) or the destination MAC (DSR).

#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <cstdio>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "balance/balancer.h"
#include "balance/maglev_table.h"
#include "xdp_lb_fixture.h"

namespace l4lb::bpf::testing {
namespace {

struct AgreementVip {
  std::uint32_t id;
  Address address;
  std::uint16_t port;
  std::uint8_t proto;
  bool hash_port;
  bool ipip;
  std::vector<std::uint32_t> slots;  // the table written to the program, in backend indexes
};

// A Maglev table as the proxy path builds it (names and weights), in the program's terms.
std::vector<std::uint32_t> maglevSlots(const std::vector<balance::BackendSlot>& backends,
                                       const std::vector<std::uint32_t>& index_of,
                                       std::uint32_t size) {
  const balance::MaglevTable table(backends, size);
  return tableSlots(table, index_of);
}

TEST_F(XdpLbTest, TheProgramAndTheCppSideAgreeOnEveryFlow) {
  const std::vector<balance::BackendSlot> v4{{"web-a", 1}, {"web-b", 2}, {"web-c", 3}};
  const std::vector<balance::BackendSlot> v6{{"web6-a", 1}, {"web6-b", 1}, {"web6-c", 1}};
  const std::vector<std::uint32_t> v4_index{kV4a, kV4b, kV4c};
  const std::vector<std::uint32_t> v6_index{kV6a, kV6b, kV6c};
  std::vector<AgreementVip> vips = {
      {kIpipTcp4, kIpipVip4, 80, IPPROTO_TCP, true, true,
       maglevSlots(v4, v4_index, balance::kDefaultMaglevTableSize)},
      {kIpipUdp6, kIpipVip6, 53, IPPROTO_UDP, false, true, maglevSlots(v6, v6_index, 251)},
      {kDsrUdp4, kVip4, 53, IPPROTO_UDP, false, false, maglevSlots(v4, v4_index, 4099)},
      {kDsrTcp6, kVip6, 80, IPPROTO_TCP, true, false,
       maglevSlots(v6, v6_index, balance::kDefaultMaglevTableSize)},
  };
  for (const AgreementVip& vip : vips) {
    auto set = program_->setTable(vip.id, vip.slots);
    ASSERT_TRUE(set) << set.error().message();
  }
  std::map<std::vector<std::uint8_t>, std::uint32_t> index_by_address;
  for (const auto& [index, text] : {std::pair{kV4a, "192.0.2.11"},
                                    {kV4b, "192.0.2.12"},
                                    {kV4c, "192.0.2.13"},
                                    {kV6a, "2001:db8::11"},
                                    {kV6b, "2001:db8::12"},
                                    {kV6c, "2001:db8::13"}}) {
    const Address address = ip(text);
    index_by_address[std::vector<std::uint8_t>(address.span().begin(), address.span().end())] =
        index;
  }

  std::mt19937_64 random(20261205);  // fixed: a failure names a tuple that can be replayed
  constexpr int kTuples = 100000;
  int disagreements = 0;
  int slot_disagreements = 0;
  std::map<std::uint32_t, int> per_backend;
  for (int i = 0; i < kTuples; ++i) {
    const AgreementVip& vip = vips[static_cast<std::size_t>(i) % vips.size()];
    Tuple tuple{vip.address.family == AF_INET ? kClient4 : kClient6, vip.address, 0, vip.port,
                vip.proto};
    const std::uint64_t bits = random();
    if (vip.address.family == AF_INET) {  // 198.18.0.0/15, the benchmarking range
      tuple.src = ipv4FromHost(0xc6120000U | static_cast<std::uint32_t>(bits & 0x1ffff));
    } else {  // 2001:db8:ff::/48, 80 random bits
      for (std::size_t b = 6; b < 16; ++b) {
        tuple.src.bytes[b] = static_cast<std::uint8_t>(random() >> (b * 3));
      }
    }
    tuple.sport = static_cast<std::uint16_t>(1024 + (bits >> 40) % 64000);
    PacketOptions options;
    if (vip.proto == IPPROTO_TCP) options = syn();
    const auto out = run(toLb(tuple, options));
    std::uint32_t got = 0;
    if (out.verdict == XDP_TX && vip.ipip) {
      const bool outer_v4 = out.out[12] == 0x08;
      const std::size_t at = outer_v4 ? 14 + 16 : 14 + 24;
      const std::size_t length = outer_v4 ? 4 : 16;
      const auto found = index_by_address.find(
          std::vector<std::uint8_t>(out.out.begin() + static_cast<std::ptrdiff_t>(at),
                                    out.out.begin() + static_cast<std::ptrdiff_t>(at + length)));
      if (found != index_by_address.end()) got = found->second;
    } else if (out.verdict == XDP_TX) {
      got = out.out[5];  // backendMac(index): the last byte is the index
    }
    const std::uint32_t want = vip.slots[proxyPathHash(tuple, vip.hash_port) % vip.slots.size()];
    // bpf::slotOf, the packet path's own answer from a 5-tuple, says the same.
    const std::uint32_t flags = vip.hash_port ? L4LB_VIP_HASH_PORT : 0;
    const auto size = static_cast<std::uint32_t>(vip.slots.size());
    if (vip.slots[slotOf(flowOf(tuple), flags, size)] != want) ++slot_disagreements;
    ++per_backend[got];
    if (got != want && ++disagreements <= 5) {
      ADD_FAILURE() << "VIP " << vip.id << ", client port " << tuple.sport << ": program sent to "
                    << got << " (verdict " << out.verdict << "), C++ says " << want;
    }
  }
  EXPECT_EQ(disagreements, 0) << "of " << kTuples;
  EXPECT_EQ(slot_disagreements, 0) << "of " << kTuples;
  // Every backend got flows (the test exercised the whole tables, not one slot).
  for (const std::uint32_t index : {kV4a, kV4b, kV4c, kV6a, kV6b, kV6c}) {
    EXPECT_GT(per_backend[index], 1000) << "backend " << index;
  }
  std::printf("[ agreement ] %d tuples, %d disagreements\n", kTuples, disagreements);
}

}  // namespace
}  // namespace l4lb::bpf::testing
