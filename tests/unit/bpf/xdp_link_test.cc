// Attaching the programs to an interface through a bpf_link (src/bpf/xdp_link.h), on a veth of
// the fixture's namespace; and what one packet costs the program (printed, never asserted).

#include "bpf/xdp_link.h"

#include <gtest/gtest.h>
#include <linux/bpf.h>

#include <cerrno>
#include <chrono>
#include <cstdio>
#include <vector>

#include "balance/balancer.h"
#include "bpf/decap_program.h"
#include "xdp_lb_fixture.h"

namespace l4lb::bpf::testing {
namespace {

TEST_F(XdpLbTest, AttachesThroughALinkReplacesAndDetachesOnClose) {
  auto lb_id = programId(program_->programFd());
  ASSERT_TRUE(lb_id) << lb_id.error().message();
  {
    auto link = attachXdp(net_->lb0(), program_->programFd());
    ASSERT_TRUE(link) << link.error().message();
    EXPECT_EQ(attachedXdpProgramId(net_->lb0()).valueOr(0), *lb_id);

    auto again = attachXdp(net_->lb0(), program_->programFd());
    ASSERT_FALSE(again);
    EXPECT_EQ(again.error().code, EBUSY);

    // An upgrade's swap: the link stays, the program behind it changes in one step.
    auto decap = DecapProgram::load();
    ASSERT_TRUE(decap) << decap.error().message();
    auto decap_id = programId(decap->programFd());
    ASSERT_TRUE(decap_id);
    auto replaced = replaceXdpProgram(link->get(), decap->programFd());
    ASSERT_TRUE(replaced) << replaced.error().message();
    EXPECT_EQ(attachedXdpProgramId(net_->lb0()).valueOr(0), *decap_id);
  }
  // The link's descriptor closed: nothing attached any more.
  EXPECT_EQ(attachedXdpProgramId(net_->lb0()).valueOr(1), 0U);
}

// The program's own time per packet as the kernel measures it (BPF_PROG_TEST_RUN's duration),
// and the time to build and swap in a full-size table. Printed for docs/internals.md; the
// machine is shared, so nothing here is asserted but the verdicts.
TEST_F(XdpLbTest, ReportsWhatAPacketAndATableSwapCost) {
  sendAllTo(kDsrTcp4, kV4a);
  sendAllTo(kDsrTcp6, kV6a);
  sendAllTo(kIpipTcp4, kV4a);
  constexpr std::uint32_t kRepeat = 1000000;
  for (const Tuple& tuple : {tcp4(), tcp6()}) {
    const Bytes in = toLb(tuple);
    ASSERT_EQ(run(in).verdict, XDP_TX);  // the entry exists from here on
    // Repeats run on the same buffer; DSR's rewrite leaves a frame that takes the same path.
    const auto timed = runXdp(program_->programFd(), in, net_->lb0(), kRepeat);
    ASSERT_EQ(timed.verdict, XDP_TX);
    std::printf("[ measure ] DSR, IPv%d TCP, connection-table hit: %u ns per packet (%u runs)\n",
                tuple.src.family == AF_INET ? 4 : 6, timed.duration_ns, kRepeat);
  }
  // IPIP grows the buffer each run, so it is timed one run at a time; a single run's figure
  // includes the kernel's timer reads and cold caches, so DSR is timed the same way beside it.
  constexpr int kSingles = 20000;
  const auto single_runs = [&](const Bytes& in) {
    EXPECT_EQ(run(in).verdict, XDP_TX);
    std::uint64_t total = 0;
    for (int i = 0; i < kSingles; ++i) {
      const auto timed = runXdp(program_->programFd(), in, net_->lb0());
      EXPECT_EQ(timed.verdict, XDP_TX);
      total += timed.duration_ns;
    }
    return static_cast<unsigned long long>(total / kSingles);
  };
  const unsigned long long ipip =
      single_runs(toLb(Tuple{kClient4, kIpipVip4, 40000, 80, IPPROTO_TCP}));
  const unsigned long long dsr = single_runs(toLb(tcp4()));
  std::printf(
      "[ measure ] one run at a time (%d runs each), IPv4 TCP, connection-table hit: "
      "IPIP %llu ns, DSR %llu ns per packet\n",
      kSingles, ipip, dsr);

  const std::vector<std::uint32_t> slots(balance::kDefaultMaglevTableSize, kV4a);
  constexpr int kSwaps = 20;
  const auto start = std::chrono::steady_clock::now();
  for (int i = 0; i < kSwaps; ++i) ASSERT_TRUE(program_->setTable(kDsrTcp4, slots));
  const auto elapsed = std::chrono::steady_clock::now() - start;
  std::printf("[ measure ] Maglev table of %u slots built and swapped in: %.2f ms\n",
              balance::kDefaultMaglevTableSize,
              std::chrono::duration<double, std::milli>(elapsed).count() / kSwaps);
}

}  // namespace
}  // namespace l4lb::bpf::testing
