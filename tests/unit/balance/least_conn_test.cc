#include "balance/least_conn.h"

#include <gtest/gtest.h>

#include <array>
#include <vector>

#include "balance_test_util.h"

namespace l4lb::balance {
namespace {

using testing::makeBalancer;
using testing::pickSequence;

void open(Balancer& balancer, std::uint32_t backend, int connections) {
  for (int i = 0; i < connections; ++i) balancer.onConnectionOpened(backend);
}

TEST(LeastConn, PicksTheBackendWithFewestConnections) {
  const auto balancer = makeBalancer(Algorithm::kLeastConn, {1, 1, 1});
  open(*balancer, 0, 3);
  open(*balancer, 1, 1);
  open(*balancer, 2, 2);
  EXPECT_EQ(balancer->pick(PickRequest{}), 1U);
  EXPECT_EQ(balancer->pick(PickRequest{}), 1U);  // counts unchanged: still the least loaded
}

TEST(LeastConn, ComparesConnectionsRelativeToWeight) {
  const auto balancer = makeBalancer(Algorithm::kLeastConn, {3, 1});
  open(*balancer, 0, 2);
  open(*balancer, 1, 1);
  EXPECT_EQ(balancer->pick(PickRequest{}), 0U);  // 2/3 < 1/1
  open(*balancer, 0, 2);
  EXPECT_EQ(balancer->pick(PickRequest{}), 1U);  // 4/3 > 1/1
}

TEST(LeastConn, TiesRotate) {
  const auto balancer = makeBalancer(Algorithm::kLeastConn, {1, 1, 1});
  EXPECT_EQ(pickSequence(*balancer, 6), (std::vector<std::uint32_t>{0, 1, 2, 0, 1, 2}));
}

TEST(LeastConn, TiesRotateAmongTheLeastLoadedOnly) {
  const auto balancer = makeBalancer(Algorithm::kLeastConn, {1, 1, 1, 1});
  open(*balancer, 1, 1);
  EXPECT_EQ(pickSequence(*balancer, 6), (std::vector<std::uint32_t>{0, 2, 3, 0, 2, 3}));
}

TEST(LeastConn, SeedChangesWhereTiesStart) {
  const auto balancer = makeBalancer(Algorithm::kLeastConn, {1, 1, 1}, 2);
  EXPECT_EQ(balancer->pick(PickRequest{}), 2U);
  EXPECT_EQ(balancer->pick(PickRequest{}), 0U);
}

TEST(LeastConn, LongLivedConnectionsSettleInProportionToWeight) {
  const auto balancer = makeBalancer(Algorithm::kLeastConn, {2, 1, 1});
  for (int i = 0; i < 400; ++i) balancer->onConnectionOpened(balancer->pick(PickRequest{}));
  EXPECT_EQ(balancer->active(0), 200U);
  EXPECT_EQ(balancer->active(1), 100U);
  EXPECT_EQ(balancer->active(2), 100U);
}

TEST(LeastConn, SkipsDownAndExcludedBackends) {
  const auto balancer = makeBalancer(Algorithm::kLeastConn, {1, 1, 1});
  open(*balancer, 0, 5);
  open(*balancer, 2, 5);
  balancer->setUp(1, false);  // the least loaded, but down
  const std::array<std::uint32_t, 1> tried = {0};
  for (int i = 0; i < 5; ++i) EXPECT_EQ(balancer->pick(PickRequest{.exclude = tried}), 2U);
  const std::array<std::uint32_t, 2> tried_both = {0, 2};
  EXPECT_EQ(balancer->pick(PickRequest{.exclude = tried_both}), kNoBackend);
}

}  // namespace
}  // namespace l4lb::balance
