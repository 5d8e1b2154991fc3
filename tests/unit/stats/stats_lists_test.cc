// The counter families made from the stats/ lists: what adds up, and the exit report's line.
#include <gtest/gtest.h>

#include <cstdint>
#include <string_view>

#include "stats/datagram_stats.h"
#include "stats/metrics_sample.h"
#include "stats/stream_stats.h"

namespace l4lb::stats {
namespace {

enum class End : std::uint8_t { kDone, kTimedOut, kCount };

std::string_view endName(End end) { return end == End::kDone ? "done" : "timed-out"; }

TEST(StatsListsTest, DatagramTotalsLineKeepsItsKeysAndOrder) {
  DatagramStats<End, endName> one;
  one.datagrams_in.add(3);
  one.dropped_acl.add();
  one.endedBy(End::kTimedOut).add(2);
  one.flows_active.add();  // a gauge: not in the line
  DatagramStats<End, endName> totals;
  totals.addFrom(one);
  totals.addFrom(one);
  EXPECT_EQ(totals.summary(),
            "datagrams_in=6 datagrams_sent=0 replies_in=0 replies_sent=0 flows_created=0 "
            "flows_moved=0 backend_unreachable=0 dropped_truncated=0 dropped_no_backend=0 "
            "dropped_source_limit=0 dropped_acl=2 dropped_send=0 dropped_no_return=0 "
            "dropped_too_large=0 dropped_queue_full=0 dropped_proxy_untrusted=0 "
            "dropped_bad_proxy_header=0 receive_errors=0 flows_done=0 flows_timed_out=4");
}

TEST(StatsListsTest, ListenerNumbersSumWorkersAndEndReasons) {
  ListenerCounters<End> a;
  ListenerCounters<End> b;
  a.accepted.add(2);
  b.accepted.add(5);
  b.refused_proxy_untrusted.add();
  a.endedBy(End::kDone).add();
  b.endedBy(End::kDone).add(2);
  ListenerNumbers sum;
  sum.add(a);
  sum.add(b);
  EXPECT_EQ(sum.accepted, 7U);
  EXPECT_EQ(sum.refused_proxy_untrusted, 1U);
  EXPECT_EQ(sum.ended, (std::vector<std::uint64_t>{3, 0}));
}

TEST(StatsListsTest, WorkerStatsAddUp) {
  WorkerStats<End> a;
  a.spliced.add(4);
  a.endedBy(End::kTimedOut).add();
  WorkerStats<End> totals;
  totals.addFrom(a);
  totals.addFrom(a);
  EXPECT_EQ(totals.spliced.get(), 8U);
  EXPECT_EQ(totals.ended[1].get(), 2U);
}

TEST(StatsListsTest, BackendNumbersTakeTheHistogramToo) {
  BackendCounters counters;
  counters.total.add(3);
  counters.observeConnect(700);
  BackendNumbers sum;
  sum.add(counters);
  sum.add(counters);
  EXPECT_EQ(sum.total, 6U);
  EXPECT_EQ(sum.connect_buckets[1], 2U);
  EXPECT_EQ(sum.connect_sum_us, 1400U);
}

}  // namespace
}  // namespace l4lb::stats
