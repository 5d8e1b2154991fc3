#include "balance/balancer.h"

#include <gtest/gtest.h>

#include "balance/first.h"
#include "balance/least_conn.h"
#include "balance/maglev.h"
#include "balance/random_two.h"
#include "balance/round_robin.h"
#include "balance_test_util.h"

namespace l4lb::balance {
namespace {

using testing::hashed;
using testing::makeBalancer;

TEST(AlgorithmName, RoundTripsEveryAlgorithm) {
  for (const Algorithm algorithm : {Algorithm::kRoundRobin, Algorithm::kLeastConn,
                                    Algorithm::kRandomTwo, Algorithm::kMaglev, Algorithm::kFirst}) {
    EXPECT_EQ(parseAlgorithm(algorithmName(algorithm)), algorithm);
  }
  EXPECT_EQ(algorithmName(Algorithm::kLeastConn), "least-conn");
}

TEST(AlgorithmName, RejectsUnknownAndMisspelled) {
  EXPECT_FALSE(parseAlgorithm("").has_value());
  EXPECT_FALSE(parseAlgorithm("roundrobin").has_value());
  EXPECT_FALSE(parseAlgorithm("Maglev").has_value());
  EXPECT_FALSE(parseAlgorithm("least_conn").has_value());
}

TEST(MakeBalancerPlan, InstantiatesTheNamedAlgorithm) {
  const std::vector<std::uint32_t> weights = {1, 1};
  EXPECT_NE(dynamic_cast<RoundRobinBalancer*>(makeBalancer(Algorithm::kRoundRobin, weights).get()),
            nullptr);
  EXPECT_NE(dynamic_cast<LeastConnBalancer*>(makeBalancer(Algorithm::kLeastConn, weights).get()),
            nullptr);
  EXPECT_NE(dynamic_cast<RandomTwoBalancer*>(makeBalancer(Algorithm::kRandomTwo, weights).get()),
            nullptr);
  EXPECT_NE(dynamic_cast<MaglevBalancer*>(makeBalancer(Algorithm::kMaglev, weights).get()),
            nullptr);
  EXPECT_NE(dynamic_cast<FirstBalancer*>(makeBalancer(Algorithm::kFirst, weights).get()), nullptr);
}

TEST(Balancer, StartsAllUpWithNoConnections) {
  const auto balancer = makeBalancer(Algorithm::kFirst, {3, 1, 2});
  ASSERT_EQ(balancer->size(), 3U);
  for (std::uint32_t i = 0; i < 3; ++i) {
    EXPECT_TRUE(balancer->isUp(i));
    EXPECT_EQ(balancer->active(i), 0U);
  }
}

TEST(Balancer, CountsConnectionsAndIgnoresStrayClose) {
  const auto balancer = makeBalancer(Algorithm::kLeastConn, {1, 1});
  balancer->onConnectionOpened(1);
  balancer->onConnectionOpened(1);
  balancer->onConnectionClosed(1);
  EXPECT_EQ(balancer->active(1), 1U);
  // A close reported to a fresh instance (after a reload) must not wrap to 2^32 - 1.
  balancer->onConnectionClosed(0);
  EXPECT_EQ(balancer->active(0), 0U);
}

TEST(Balancer, EveryAlgorithmAnswersNoBackendForAnEmptyPool) {
  for (const Algorithm algorithm : {Algorithm::kRoundRobin, Algorithm::kLeastConn,
                                    Algorithm::kRandomTwo, Algorithm::kMaglev, Algorithm::kFirst}) {
    const auto balancer = makeBalancer(algorithm, {});
    EXPECT_EQ(balancer->pick(hashed(42)), kNoBackend) << algorithmName(algorithm);
  }
}

TEST(Balancer, EveryAlgorithmSkipsZeroWeightBackends) {
  for (const Algorithm algorithm : {Algorithm::kRoundRobin, Algorithm::kLeastConn,
                                    Algorithm::kRandomTwo, Algorithm::kMaglev, Algorithm::kFirst}) {
    const auto balancer = makeBalancer(algorithm, {0, 2, 0, 1});
    for (std::uint64_t hash = 0; hash < 500; ++hash) {
      const std::uint32_t backend = balancer->pick(hashed(hash * 7919));
      ASSERT_TRUE(backend == 1 || backend == 3) << algorithmName(algorithm);
    }
    const auto all_zero = makeBalancer(algorithm, {0, 0});
    EXPECT_EQ(all_zero->pick(PickRequest{}), kNoBackend) << algorithmName(algorithm);
  }
}

}  // namespace
}  // namespace l4lb::balance
