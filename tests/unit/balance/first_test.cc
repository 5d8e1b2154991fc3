#include "balance/first.h"

#include <gtest/gtest.h>

#include <array>

#include "balance_test_util.h"

namespace l4lb::balance {
namespace {

using testing::makeBalancer;

TEST(First, AlwaysPicksTheFirstBackendInConfigOrder) {
  // Weights do not matter, only order: backend 0 is the active one.
  const auto balancer = makeBalancer(Algorithm::kFirst, {1, 5, 3});
  for (int i = 0; i < 10; ++i) EXPECT_EQ(balancer->pick(PickRequest{}), 0U);
}

TEST(First, FailsOverInOrderWhenBackendsGoDown) {
  const auto balancer = makeBalancer(Algorithm::kFirst, {1, 1, 1});
  balancer->setUp(0, false);
  EXPECT_EQ(balancer->pick(PickRequest{}), 1U);
  balancer->setUp(1, false);
  EXPECT_EQ(balancer->pick(PickRequest{}), 2U);
  balancer->setUp(0, true);
  EXPECT_EQ(balancer->pick(PickRequest{}), 0U);
}

TEST(First, SkipsBackendsThisConnectionAlreadyTried) {
  const auto balancer = makeBalancer(Algorithm::kFirst, {1, 1, 1});
  const std::array<std::uint32_t, 1> tried_first = {0};
  EXPECT_EQ(balancer->pick(PickRequest{.exclude = tried_first}), 1U);
  const std::array<std::uint32_t, 2> tried_two = {1, 0};
  EXPECT_EQ(balancer->pick(PickRequest{.exclude = tried_two}), 2U);
  balancer->setUp(2, false);
  EXPECT_EQ(balancer->pick(PickRequest{.exclude = tried_two}), kNoBackend);
}

}  // namespace
}  // namespace l4lb::balance
