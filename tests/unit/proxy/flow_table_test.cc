#include "proxy/flow_table.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>
#include <set>
#include <vector>

namespace l4lb::proxy {
namespace {

sockaddr_in v4(std::uint16_t port) {
  sockaddr_in sin{};
  sin.sin_family = AF_INET;
  sin.sin_port = htons(port);
  inet_pton(AF_INET, "192.0.2.7", &sin.sin_addr);
  return sin;
}

const sockaddr* sa(const sockaddr_in& sin) { return reinterpret_cast<const sockaddr*>(&sin); }

Flow& add(FlowTable& table, std::uint16_t port, std::int64_t now) {
  sockaddr_in sin = v4(port);
  return table.insert(sa(sin), sizeof(sin), hashFlowKey(sa(sin), sizeof(sin)), now);
}

Flow* lookup(FlowTable& table, std::uint16_t port) {
  sockaddr_in sin = v4(port);
  return table.find(sa(sin), sizeof(sin), hashFlowKey(sa(sin), sizeof(sin)));
}

TEST(FlowTable, InsertThenFindByExactAddress) {
  FlowTable table(8);
  Flow& flow = add(table, 1000, 5);
  EXPECT_TRUE(flow.live);
  EXPECT_EQ(flow.started_ms, 5);
  EXPECT_EQ(lookup(table, 1000), &flow);
  EXPECT_EQ(lookup(table, 1001), nullptr);
  EXPECT_EQ(table.size(), 1U);
}

TEST(FlowTable, SameAddressOtherFamilyIsAnotherFlow) {
  FlowTable table(8);
  sockaddr_in6 sin6{};
  sin6.sin6_family = AF_INET6;
  sin6.sin6_port = htons(1000);
  inet_pton(AF_INET6, "2001:db8::7", &sin6.sin6_addr);
  const auto* six = reinterpret_cast<const sockaddr*>(&sin6);
  add(table, 1000, 0);
  EXPECT_EQ(table.find(six, sizeof(sin6), hashFlowKey(six, sizeof(sin6))), nullptr);
  Flow& flow = table.insert(six, sizeof(sin6), hashFlowKey(six, sizeof(sin6)), 0);
  EXPECT_EQ(table.find(six, sizeof(sin6), hashFlowKey(six, sizeof(sin6))), &flow);
}

TEST(FlowTable, NoAddressIsOneFlow) {
  FlowTable table(4);
  sockaddr_un none{};
  const auto* addr = reinterpret_cast<const sockaddr*>(&none);
  Flow& flow = table.insert(addr, 0, hashFlowKey(addr, 0), 0);
  EXPECT_EQ(table.find(addr, 0, hashFlowKey(addr, 0)), &flow);
}

TEST(FlowTable, OldestFollowsActivity) {
  FlowTable table(8);
  Flow& a = add(table, 1, 10);
  Flow& b = add(table, 2, 20);
  Flow& c = add(table, 3, 30);
  EXPECT_EQ(table.oldest(), &a);
  table.touch(a, 40);
  EXPECT_EQ(table.oldest(), &b);
  EXPECT_EQ(a.last_active_ms, 40);
  table.erase(b);
  EXPECT_EQ(table.oldest(), &c);
  table.erase(c);
  EXPECT_EQ(table.oldest(), &a);
  table.erase(a);
  EXPECT_EQ(table.oldest(), nullptr);
  EXPECT_EQ(table.size(), 0U);
}

TEST(FlowTable, FullTableEvictsOldestAndReusesItsSlot) {
  FlowTable table(2);
  Flow& a = add(table, 1, 1);
  add(table, 2, 2);
  EXPECT_TRUE(table.full());
  // What the listener does when a third client arrives: end the oldest, then insert.
  Flow* oldest = table.oldest();
  ASSERT_EQ(oldest, &a);
  std::uint32_t freed = oldest->index;
  table.erase(*oldest);
  Flow& c = add(table, 3, 3);
  EXPECT_EQ(c.index, freed);
  EXPECT_EQ(lookup(table, 1), nullptr);
  EXPECT_NE(lookup(table, 2), nullptr);
  EXPECT_EQ(lookup(table, 3), &c);
  EXPECT_EQ(c.requests, 0U) << "a reused slot starts clean";
}

TEST(FlowTable, IdleSweepFromTheTail) {
  FlowTable table(16);
  for (std::uint16_t p = 0; p < 10; ++p) add(table, p, p * 100);
  table.touch(*lookup(table, 0), 5000);  // the first one is active again
  const std::int64_t idle = 1000;
  const std::int64_t now = 1450;
  std::vector<std::uint16_t> expired;
  while (Flow* flow = table.oldest()) {
    if (flow->last_active_ms + idle > now) break;
    expired.push_back(ntohs(reinterpret_cast<const sockaddr_in*>(&flow->client.addr)->sin_port));
    table.erase(*flow);
  }
  EXPECT_EQ(expired, (std::vector<std::uint16_t>{1, 2, 3, 4}));
  EXPECT_EQ(table.size(), 6U);
}

TEST(FlowTable, SlotAddressesStayStableAsTheTableGrows) {
  FlowTable table(5000);
  Flow& first = add(table, 1, 0);
  for (std::uint16_t p = 2; p < 3000; ++p) add(table, p, 0);
  EXPECT_EQ(lookup(table, 1), &first);
  EXPECT_EQ(table.size(), 2999U);
}

// Random inserts and erases against a std::set model: backward-shift deletion must never lose
// an entry that shares a probe run with an erased one.
TEST(FlowTable, MatchesAModelUnderChurn) {
  FlowTable table(512);
  std::set<std::uint16_t> model;
  std::uint32_t state = 12345;
  auto next = [&] {
    state = state * 1664525 + 1013904223;
    return state >> 8;
  };
  for (int step = 0; step < 20000; ++step) {
    auto port = static_cast<std::uint16_t>(next() % 700);
    Flow* found = lookup(table, port);
    ASSERT_EQ(found != nullptr, model.count(port) == 1) << "step " << step;
    if (found != nullptr) {
      table.erase(*found);
      model.erase(port);
    } else if (!table.full()) {
      add(table, port, step);
      model.insert(port);
    }
    ASSERT_EQ(table.size(), model.size());
  }
  for (std::uint16_t port : model) EXPECT_NE(lookup(table, port), nullptr);
}

}  // namespace
}  // namespace l4lb::proxy
