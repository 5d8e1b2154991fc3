// The safety rules of discovery (issue 16): what an answer may change, and when.

#include "discover/answer_gate.h"

#include <gtest/gtest.h>

#include "net/endpoint.h"

namespace l4lb::discover {
namespace {

config::DiscoverConfig dnsConfig() {
  config::DiscoverConfig config;
  config.dns_name = "_x._tcp.example";
  config.settle = std::chrono::milliseconds(1000);
  return config;
}

config::DiscoveredBackend backend(int last_octet, std::uint32_t weight = 1) {
  auto address = net::parseEndpoint("tcp://127.0.0." + std::to_string(last_octet) + ":6379");
  EXPECT_TRUE(address.ok());
  return config::DiscoveredBackend{
      .address = std::move(address).value(), .weight = weight, .backup = false, .name = {}};
}

Answer records(std::vector<int> octets) {
  Answer answer{.kind = AnswerKind::kRecords, .set = {}, .error = {}};
  for (int o : octets) answer.set.backends.push_back(backend(o));
  return answer;
}

Answer error(std::string why) {
  return Answer{.kind = AnswerKind::kError, .set = {}, .error = std::move(why)};
}

// A gate that has applied backends 1..n.
AnswerGate appliedGate(int n, config::DiscoverConfig config = dnsConfig()) {
  AnswerGate gate(config, std::nullopt);
  std::vector<int> octets;
  for (int i = 1; i <= n; ++i) octets.push_back(i);
  (void)gate.onAnswer(0, records(octets));
  EXPECT_TRUE(gate.due(config.settle.count()));
  return gate;
}

TEST(AnswerGateTest, AChangeAppliesOnceItHasSettled) {
  AnswerGate gate(dnsConfig(), std::nullopt);
  EXPECT_EQ(gate.onAnswer(0, records({1, 2})).verdict, Verdict::kPending);
  EXPECT_FALSE(gate.due(999));
  auto applied = gate.due(1000);
  ASSERT_TRUE(applied);
  EXPECT_EQ(applied->backends.size(), 2U);
  EXPECT_EQ(applied->label, "dns:_x._tcp.example");
  EXPECT_TRUE(gate.synced());
  EXPECT_EQ(gate.onAnswer(2000, records({2, 1})).verdict, Verdict::kUnchanged);  // any order
}

TEST(AnswerGateTest, ErrorsAndTimeoutsNeverRemoveABackend) {
  AnswerGate gate = appliedGate(3);
  for (int i = 0; i < 10; ++i) {
    const GateOutcome outcome = gate.onAnswer(2000 + i * 1000, error("timeout"));
    EXPECT_EQ(outcome.verdict, Verdict::kError);
    EXPECT_NE(outcome.message.find("keeping the 3 backends"), std::string::npos);
    EXPECT_FALSE(gate.due(2000 + i * 1000 + 5000));
  }
  EXPECT_EQ(gate.applied().backends.size(), 3U);
}

TEST(AnswerGateTest, AnErrorBeforeAnyAnswerIsNotSynced) {
  AnswerGate gate(dnsConfig(), std::nullopt);
  EXPECT_EQ(gate.onAnswer(0, error("SERVFAIL")).verdict, Verdict::kError);
  EXPECT_FALSE(gate.synced());
}

TEST(AnswerGateTest, AnEmptyAnswerIsHeld) {
  AnswerGate gate = appliedGate(2);
  const GateOutcome nx = gate.onAnswer(
      2000, Answer{.kind = AnswerKind::kEmpty, .set = {}, .error = {}});  // NXDOMAIN, NODATA
  EXPECT_EQ(nx.verdict, Verdict::kHeldEmpty);
  EXPECT_NE(nx.message.find("empty answer held"), std::string::npos) << nx.message;
  EXPECT_EQ(gate.onAnswer(3000, records({})).verdict, Verdict::kHeldEmpty);
  EXPECT_FALSE(gate.due(100'000));
  EXPECT_EQ(gate.applied().backends.size(), 2U);
}

TEST(AnswerGateTest, AnEmptyAnswerWhenNothingIsAppliedChangesNothing) {
  AnswerGate gate(dnsConfig(), std::nullopt);
  EXPECT_EQ(gate.onAnswer(0, Answer{.kind = AnswerKind::kEmpty, .set = {}, .error = {}}).verdict,
            Verdict::kUnchanged);
  EXPECT_TRUE(gate.synced());
}

TEST(AnswerGateTest, RemovingMoreThanMaxRemovedIsHeld) {
  AnswerGate gate = appliedGate(4);  // 50% of 4: two may go at once
  const GateOutcome three = gate.onAnswer(2000, records({1}));
  EXPECT_EQ(three.verdict, Verdict::kHeldRemovals);
  EXPECT_NE(three.message.find("removes 3 of 4"), std::string::npos) << three.message;
  EXPECT_FALSE(gate.due(100'000));
  EXPECT_EQ(gate.onAnswer(3000, records({1, 2})).verdict, Verdict::kPending);
  EXPECT_TRUE(gate.due(4000));
  EXPECT_EQ(gate.applied().backends.size(), 2U);
}

TEST(AnswerGateTest, ACountCapAndAddingWhileRemoving) {
  config::DiscoverConfig config = dnsConfig();
  config.max_removed = config::RemovalCap{.percent = false, .value = 1};
  AnswerGate gate = appliedGate(3, config);
  EXPECT_EQ(gate.onAnswer(2000, records({3, 4, 5})).verdict, Verdict::kHeldRemovals);
  EXPECT_EQ(gate.onAnswer(3000, records({2, 3, 4, 5})).verdict, Verdict::kPending);
}

TEST(AnswerGateTest, ABurstAppliesOnceAsItsLastAnswer) {
  AnswerGate gate = appliedGate(2);
  EXPECT_EQ(gate.onAnswer(2000, records({1, 2, 3})).verdict, Verdict::kPending);
  EXPECT_EQ(gate.onAnswer(2500, records({1, 2, 3, 4})).verdict, Verdict::kPending);
  EXPECT_FALSE(gate.due(3000));  // the second change restarted the settle
  auto applied = gate.due(3500);
  ASSERT_TRUE(applied);
  EXPECT_EQ(applied->backends.size(), 4U);
  EXPECT_FALSE(gate.due(10'000));  // once
}

TEST(AnswerGateTest, AnEndlessBurstStillAppliesWithinMaxSettles) {
  AnswerGate gate = appliedGate(2);
  std::int64_t applied_at = 0;
  for (int i = 0; i < 20 && applied_at == 0; ++i) {
    const std::int64_t now = 2000 + i * 900;  // a new answer each 900 ms, settle 1 s
    (void)gate.onAnswer(now, records({1, 2, 3 + i % 2 + 1}));
    if (gate.due(now)) applied_at = now;
  }
  ASSERT_NE(applied_at, 0);
  EXPECT_LE(applied_at, 2000 + AnswerGate::kMaxSettles * 1000 + 900);
}

TEST(AnswerGateTest, AChangeThatRevertsBeforeSettlingIsDropped) {
  AnswerGate gate = appliedGate(2);
  EXPECT_EQ(gate.onAnswer(2000, records({1, 2, 3})).verdict, Verdict::kPending);
  EXPECT_EQ(gate.onAnswer(2500, records({1, 2})).verdict, Verdict::kUnchanged);
  EXPECT_FALSE(gate.deadline());
  EXPECT_FALSE(gate.due(10'000));
}

TEST(AnswerGateTest, AWeightChangeIsAChange) {
  AnswerGate gate = appliedGate(2);
  Answer answer = records({1, 2});
  answer.set.backends[0].weight = 5;
  EXPECT_EQ(gate.onAnswer(2000, answer).verdict, Verdict::kPending);
}

TEST(AnswerGateTest, AReloadKeepsWhatWasApplied) {
  AnswerGate before = appliedGate(2);
  AnswerGate after(dnsConfig(), before.applied());
  EXPECT_EQ(after.applied().backends.size(), 2U);
  EXPECT_EQ(after.onAnswer(0, error("timeout")).verdict, Verdict::kError);
  config::DiscoverConfig other = dnsConfig();
  other.dns_name = "_y._tcp.example";
  AnswerGate elsewhere(other, before.applied());  // another source starts afresh
  EXPECT_TRUE(elsewhere.applied().backends.empty());
}

TEST(RefreshDelayTest, TtlWithinTheBounds) {
  const config::DiscoverConfig config = dnsConfig();  // 1 s .. 5 s
  EXPECT_EQ(refreshDelay(config, std::chrono::seconds(3), 0).count(), 3000);
  EXPECT_EQ(refreshDelay(config, std::chrono::seconds(0), 0).count(), 1000);
  EXPECT_EQ(refreshDelay(config, std::chrono::seconds(300), 0).count(), 5000);
  EXPECT_EQ(refreshDelay(config, std::nullopt, 0).count(), 5000);
}

TEST(RefreshDelayTest, ErrorsBackOffFromMinIntervalToInterval) {
  const config::DiscoverConfig config = dnsConfig();
  EXPECT_EQ(refreshDelay(config, std::nullopt, 1).count(), 1000);
  EXPECT_EQ(refreshDelay(config, std::nullopt, 2).count(), 2000);
  EXPECT_EQ(refreshDelay(config, std::nullopt, 3).count(), 4000);
  EXPECT_EQ(refreshDelay(config, std::nullopt, 4).count(), 5000);
  EXPECT_EQ(refreshDelay(config, std::nullopt, 40).count(), 5000);
}

}  // namespace
}  // namespace l4lb::discover
