// The XDP load balancer (src/bpf/xdp_lb.bpf.c), run by the kernel on frames built here
// (BPF_PROG_TEST_RUN): verdict and output bytes compared exactly with what the test builds on its
// own. Needs root; skipped otherwise. The namespace and why: xdp_test_env.h.

#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <chrono>
#include <cstdio>
#include <optional>
#include <vector>

#include "xdp_lb_fixture.h"

namespace l4lb::bpf::testing {
namespace {

TEST_F(XdpLbTest, DsrRewritesOnlyTheMacsForEachFamilyAndProtocol) {
  sendAllTo(kDsrTcp4, kV4b);
  sendAllTo(kDsrUdp4, kV4c);
  sendAllTo(kDsrTcp6, kV6a);
  sendAllTo(kDsrUdp6, kV6b);
  const struct {
    Tuple tuple;
    std::uint32_t vip;
    std::uint32_t backend;
  } cases[] = {{tcp4(), kDsrTcp4, kV4b},
               {udp4(), kDsrUdp4, kV4c},
               {tcp6(), kDsrTcp6, kV6a},
               {udp6(), kDsrUdp6, kV6b}};
  for (const auto& c : cases) {
    const Bytes in = toLb(c.tuple);
    const auto out = run(in);
    EXPECT_EQ(out.verdict, XDP_TX) << "VIP " << c.vip;
    EXPECT_EQ(hex(out.out), hex(dsrOut(c.tuple, c.backend))) << "VIP " << c.vip;
    const l4lb_counters vip = vipCounters(c.vip);
    EXPECT_EQ(vip.packets, 1U);
    EXPECT_EQ(vip.bytes, in.size());
    EXPECT_EQ(vip.new_flows, 1U);
    EXPECT_EQ(vip.conn_misses, 1U);  // not a SYN, and no entry yet
    const l4lb_counters backend = backendCounters(c.backend);
    EXPECT_EQ(backend.packets, 1U);
    EXPECT_EQ(backend.bytes, in.size());
  }
}

TEST_F(XdpLbTest, ABackendBehindAnotherInterfaceIsAReDirect) {
  sendAllTo(kDsrTcp4, kV4Far);
  const auto out = run(toLb(tcp4()));
  EXPECT_EQ(out.verdict, XDP_REDIRECT);
  EXPECT_EQ(hex(out.out), hex(dsrOut(tcp4(), kV4Far, {}, kLb1Mac)));
}

TEST_F(XdpLbTest, WhatIsNotAVipPassesUntouched) {
  sendAllTo(kDsrTcp4, kV4a);
  sendAllTo(kDsrTcp6, kV6a);
  const Bytes cases[] = {
      toLb(Tuple{kClient4, ip("203.0.113.11"), 40000, 80, IPPROTO_TCP}),  // another address
      toLb(Tuple{kClient4, kVip4, 40000, 81, IPPROTO_TCP}),               // another port
      toLb(Tuple{kClient4, kVip4, 40000, 80, IPPROTO_UDP}),               // another protocol
      toLb(Tuple{kClient6, kVip6, 40000, 443, IPPROTO_TCP}),
      toLb(Tuple{kClient6, kVip4, 40000, 80, IPPROTO_TCP}),  // no: kVip4 is no IPv6 address
      frame(kLb0Mac, kRouterMac,
            ipv4Header(kClient4, kVip4, IPPROTO_ICMP, 8, 0, 0x4000)),  // ICMP, cut short
      ethernet(kLb0Mac, kRouterMac, 0x0806),                           // ARP, empty
  };
  for (const Bytes& in : cases) {
    const auto out = run(in);
    EXPECT_EQ(out.verdict, XDP_PASS);
    EXPECT_EQ(out.out, in);
  }
  EXPECT_EQ(vipCounters(kDsrTcp4).packets, 0U);
}

TEST_F(XdpLbTest, AnEntryOutlivesTableChangesUntilASyn) {
  sendAllTo(kDsrTcp4, kV4a);
  EXPECT_EQ(run(toLb(tcp4())).out, dsrOut(tcp4(), kV4a));
  auto entry = program_->connection(flowOf(tcp4()));
  ASSERT_TRUE(entry && entry->has_value());
  EXPECT_EQ((*entry)->backend, kV4a);

  // A new table sends new flows elsewhere; the established one stays (a connection-table hit).
  sendAllTo(kDsrTcp4, kV4b);
  EXPECT_EQ(run(toLb(tcp4())).out, dsrOut(tcp4(), kV4a));
  EXPECT_EQ(run(toLb(tcp4(40001))).out, dsrOut(tcp4(40001), kV4b));
  // A SYN on the same tuple is a new connection: it re-picks, and the entry follows it.
  EXPECT_EQ(run(toLb(tcp4(), syn())).out, dsrOut(tcp4(), kV4b, syn()));
  EXPECT_EQ(run(toLb(tcp4())).out, dsrOut(tcp4(), kV4b));

  const l4lb_counters vip = vipCounters(kDsrTcp4);
  EXPECT_EQ(vip.packets, 5U);
  EXPECT_EQ(vip.new_flows, 3U);    // the first packet, the new tuple, the SYN
  EXPECT_EQ(vip.conn_misses, 2U);  // the first packet and the new tuple: not SYNs, no entry
}

TEST_F(XdpLbTest, ADownBackendsFlowsRePick) {
  sendAllTo(kDsrTcp6, kV6a);
  EXPECT_EQ(run(toLb(tcp6())).out, dsrOut(tcp6(), kV6a));
  // Health marks it down and the control plane writes a table without it.
  setBackend(kV6a, backendAt(ip("2001:db8::11"), L4LB_BACKEND_DOWN));
  sendAllTo(kDsrTcp6, kV6b);
  EXPECT_EQ(run(toLb(tcp6())).out, dsrOut(tcp6(), kV6b));
  auto entry = program_->connection(flowOf(tcp6()));
  ASSERT_TRUE(entry && entry->has_value());
  EXPECT_EQ((*entry)->backend, kV6b);
  EXPECT_EQ(vipCounters(kDsrTcp6).new_flows, 2U);
  EXPECT_EQ(vipCounters(kDsrTcp6).conn_misses, 1U);  // the re-pick is no miss: the entry was there
}

TEST_F(XdpLbTest, ADrainingBackendKeepsItsFlowsAndGetsNoNewOnes) {
  sendAllTo(kDsrUdp4, kV4a);
  EXPECT_EQ(run(toLb(udp4())).out, dsrOut(udp4(), kV4a));
  setBackend(kV4a, backendAt(ip("192.0.2.11"), L4LB_BACKEND_DRAIN));
  sendAllTo(kDsrUdp4, kV4b);  // the control plane leaves a draining backend out of new tables
  EXPECT_EQ(run(toLb(udp4())).out, dsrOut(udp4(), kV4a));  // existing flow keeps going
  EXPECT_EQ(run(toLb(udp4(40001))).out, dsrOut(udp4(40001), kV4b));
  EXPECT_EQ(backendCounters(kV4a).packets, 2U);
}

TEST_F(XdpLbTest, AnIdleUdpFlowRePicksAfterTheConfiguredTime) {
  sendAllTo(kDsrUdp4, kV4a);
  l4lb_config config{};
  config.mtu = 1500;
  config.udp_idle_s = 30;
  setConfig(config);
  // An entry last seen at boot (time 0): idle for longer than 30 s on any machine up that long.
  auto uptime_ok = std::chrono::steady_clock::now().time_since_epoch() > std::chrono::seconds(31);
  if (!uptime_ok) GTEST_SKIP() << "the machine has been up less than 31 s";
  const l4lb_conn stale{kV4a, 0, 0};
  const l4lb_flow flow = flowOf(udp4());
  ASSERT_EQ(bpf_map_update_elem(program_->connsFd(), &flow, &stale, BPF_ANY), 0);
  sendAllTo(kDsrUdp4, kV4b);
  EXPECT_EQ(run(toLb(udp4())).out, dsrOut(udp4(), kV4b));
  // Fresh now: it stays, whatever the table says.
  sendAllTo(kDsrUdp4, kV4c);
  EXPECT_EQ(run(toLb(udp4())).out, dsrOut(udp4(), kV4b));
}

TEST_F(XdpLbTest, FragmentsAndOptionsPassAndAreCounted) {
  sendAllTo(kDsrTcp4, kV4a);
  sendAllTo(kDsrUdp6, kV6a);
  PacketOptions first_fragment;
  first_fragment.more_fragments = true;
  first_fragment.dont_fragment = false;
  PacketOptions later_fragment;
  later_fragment.fragment_offset = 185;
  later_fragment.dont_fragment = false;
  PacketOptions options;
  options.ipv4_options = true;
  PacketOptions fragment6;
  fragment6.ipv6_extension = IPPROTO_FRAGMENT;
  PacketOptions hop_by_hop6;
  hop_by_hop6.ipv6_extension = IPPROTO_HOPOPTS;
  const Bytes cases[] = {toLb(tcp4(), first_fragment), toLb(tcp4(), later_fragment),
                         toLb(tcp4(), options), toLb(udp6(), fragment6), toLb(udp6(), hop_by_hop6)};
  for (const Bytes& in : cases) {
    const auto out = run(in);
    EXPECT_EQ(out.verdict, XDP_PASS);
    EXPECT_EQ(out.out, in);
  }
  EXPECT_EQ(global(L4LB_FRAGMENTS), 3U);
  EXPECT_EQ(global(L4LB_IP_OPTIONS), 2U);
  EXPECT_EQ(vipCounters(kDsrTcp4).packets, 0U);
}

TEST_F(XdpLbTest, NoTableOrAnEmptySlotDrops) {
  const auto out = run(toLb(tcp4()));  // no table yet
  EXPECT_EQ(out.verdict, XDP_DROP);
  sendAllTo(kDsrTcp4, 0);  // a table of empty slots
  EXPECT_EQ(run(toLb(tcp4())).verdict, XDP_DROP);
  sendAllTo(kDsrTcp4, 42);  // an index no backend has
  EXPECT_EQ(run(toLb(tcp4())).verdict, XDP_DROP);
  EXPECT_EQ(global(L4LB_NO_BACKEND), 3U);
  EXPECT_EQ(vipCounters(kDsrTcp4).packets, 3U);
  // The control plane removes the table (say, the last backend went): still no backend.
  sendAllTo(kDsrTcp4, kV4a);
  auto removed = program_->removeTable(kDsrTcp4);
  ASSERT_TRUE(removed) << removed.error().message();
  EXPECT_EQ(run(toLb(tcp4(40001))).verdict, XDP_DROP);
  EXPECT_EQ(global(L4LB_NO_BACKEND), 4U);
}

TEST_F(XdpLbTest, ANextHopTheKernelCannotResolveDrops) {
  sendAllTo(kDsrTcp4, kNoNeighbour);
  EXPECT_EQ(run(toLb(tcp4())).verdict, XDP_DROP);
  EXPECT_EQ(global(L4LB_FIB_NO_NEIGH), 1U);
  sendAllTo(kDsrTcp4, kNoRoute);
  EXPECT_EQ(run(toLb(tcp4(40001))).verdict, XDP_DROP);
  EXPECT_EQ(global(L4LB_FIB_FAILED), 1U);
  EXPECT_EQ(backendCounters(kNoRoute).packets, 0U);  // counted only when sent
}

}  // namespace
}  // namespace l4lb::bpf::testing
