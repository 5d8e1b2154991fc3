// The counters GET /metrics reads: the connect-time buckets, and a reload's next balancer
// carrying on with the counters of the one before.
#include "stats/backend_counters.h"

#include <gtest/gtest.h>

#include "balance_test_util.h"

namespace l4lb::balance {
namespace {

using stats::kConnectBucketsUs;
using testing::makeBalancer;

TEST(BackendCountersTest, ConnectTimesFallInTheFirstBucketTheyFit) {
  BackendCounters counters;
  counters.observeConnect(0);
  counters.observeConnect(500);  // a bound is inclusive (Prometheus's le)
  counters.observeConnect(501);
  counters.observeConnect(2'500'000);
  counters.observeConnect(2'500'001);  // past the last bound
  EXPECT_EQ(counters.connect_buckets[0].get(), 2U);
  EXPECT_EQ(counters.connect_buckets[1].get(), 1U);
  EXPECT_EQ(counters.connect_buckets[kConnectBucketsUs.size() - 1].get(), 1U);
  EXPECT_EQ(counters.connect_buckets[kConnectBucketsUs.size()].get(), 1U);
  EXPECT_EQ(counters.connect_sum_us.get(), 500U + 501 + 2'500'000 + 2'500'001);
}

TEST(BackendCountersTest, CarriedCountersAddUpOverBothInstances) {
  auto before = makeBalancer(Algorithm::kRoundRobin, {1, 1});
  before->onConnectionOpened(1);
  before->onConnectionOpened(1);
  before->counters(1).bytes_to_backend.add(100);
  auto after = makeBalancer(Algorithm::kLeastConn, {1});
  after->carryCounters(0, before->sharedCounters(1));
  after->onConnectionOpened(0);
  before->onConnectionClosed(1);  // a session of the old generation ends
  after->counters(0).bytes_to_backend.add(5);
  EXPECT_EQ(after->counters(0).total.get(), 3U);
  EXPECT_EQ(after->counters(0).active.get(), 2U);
  EXPECT_EQ(after->counters(0).bytes_to_backend.get(), 105U);
  // Each instance balances on its own connections alone.
  EXPECT_EQ(after->active(0), 1U);
  EXPECT_EQ(before->active(1), 1U);
  // A stray close does not take the shared count below what is open.
  after->onConnectionClosed(0);
  after->onConnectionClosed(0);
  EXPECT_EQ(after->counters(0).active.get(), 1U);
}

TEST(BackendCountersTest, ACarriedFlowIsNotSentAnew) {
  auto before = makeBalancer(Algorithm::kRoundRobin, {1});
  before->onConnectionOpened(0);
  auto after = makeBalancer(Algorithm::kRoundRobin, {1});
  after->carryCounters(0, before->sharedCounters(0));
  before->onConnectionClosed(0);  // the flow leaves the old instance...
  after->onConnectionCarried(0);  // ...for the new one
  EXPECT_EQ(after->counters(0).total.get(), 1U);
  EXPECT_EQ(after->counters(0).active.get(), 1U);
  EXPECT_EQ(after->active(0), 1U);
}

TEST(BackendCountersTest, EffectiveWeightIsZeroWhileDown) {
  auto balancer = makeBalancer(Algorithm::kRoundRobin, {3, 1});
  EXPECT_EQ(balancer->effectiveWeight(0), 3U);
  balancer->setWeight(0, 2);  // a slow-start step
  EXPECT_EQ(balancer->effectiveWeight(0), 2U);
  balancer->setUp(0, false);
  EXPECT_EQ(balancer->effectiveWeight(0), 0U);
  balancer->setWeight(0, 3);
  EXPECT_EQ(balancer->effectiveWeight(0), 0U);
  balancer->setUp(0, true);
  EXPECT_EQ(balancer->effectiveWeight(0), 3U);
  EXPECT_EQ(balancer->effectiveWeight(1), 1U);
}

}  // namespace
}  // namespace l4lb::balance
