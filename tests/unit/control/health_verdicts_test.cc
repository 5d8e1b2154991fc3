#include "control/health_verdicts.h"

#include <gtest/gtest.h>

namespace l4lb::control {
namespace {

constexpr BackendState kUnknown = BackendState::kUnknown;
constexpr BackendState kUp = BackendState::kUp;
constexpr BackendState kDown = BackendState::kDown;

TEST(CombinedState, UpOnlyWhenBothJudgesSaySo) {
  EXPECT_EQ(combinedState(kUp, kUnknown), kUp) << "an agent that said nothing changes nothing";
  EXPECT_EQ(combinedState(kUp, kUp), kUp);
  EXPECT_EQ(combinedState(kUp, kDown), kDown);
  EXPECT_EQ(combinedState(kDown, kUp), kDown) << "the agent's up never overrides the checks";
  EXPECT_EQ(combinedState(kDown, kDown), kDown);
  EXPECT_EQ(combinedState(kUnknown, kUp), kUnknown) << "nor brings up an unchecked backend";
  EXPECT_EQ(combinedState(kUnknown, kDown), kDown);
}

// One checked backend, as HealthChecker keeps it.
HealthSnapshot oneBackend(BackendState checks) {
  HealthSnapshot states;
  states.pools = {{checks}};
  states.changes = {{StateChange{}}};
  states.checks = {{checks}};
  states.agents = {{AgentVerdict{}}};
  return states;
}

AgentVerdict says(BackendState state, std::string said) { return {state, std::move(said)}; }

TEST(HealthVerdicts, AgentDownTakesAnUpBackendDownAndItsUpBringsItBack) {
  HealthSnapshot states = oneBackend(kUp);
  ASSERT_TRUE(setAgentVerdict(states, 0, 0, says(kDown, "down#maintenance window"), 10));
  EXPECT_EQ(states.pools[0][0], kDown);
  EXPECT_EQ(states.changes[0][0].from, kUp);
  EXPECT_EQ(states.changes[0][0].to, kDown);
  EXPECT_EQ(states.changes[0][0].reason, "agent: down#maintenance window");
  EXPECT_EQ(states.changes[0][0].unix_ms, 10);

  ASSERT_TRUE(setAgentVerdict(states, 0, 0, says(kUp, "up"), 20));
  EXPECT_EQ(states.pools[0][0], kUp);
  EXPECT_EQ(states.changes[0][0].reason, "agent: up");
}

TEST(HealthVerdicts, AgentUpKeepsABackendWhoseChecksFailDown) {
  HealthSnapshot states = oneBackend(kDown);
  EXPECT_FALSE(setAgentVerdict(states, 0, 0, says(kUp, "up"), 10));
  EXPECT_EQ(states.pools[0][0], kDown);
  EXPECT_EQ(states.agents[0][0].state, kUp) << "the agent's word is kept all the same";
  ASSERT_TRUE(setChecksVerdict(states, 0, 0, kUp, "connected", 20));
  EXPECT_EQ(states.pools[0][0], kUp);
  EXPECT_EQ(states.changes[0][0].reason, "connected");
}

TEST(HealthVerdicts, ChecksComingUpDoNotLiftTheAgentsDown) {
  HealthSnapshot states = oneBackend(kUp);
  ASSERT_TRUE(setAgentVerdict(states, 0, 0, says(kDown, "stopped"), 10));
  EXPECT_FALSE(setChecksVerdict(states, 0, 0, kDown, "refused", 20));
  EXPECT_FALSE(setChecksVerdict(states, 0, 0, kUp, "connected", 30));
  EXPECT_EQ(states.pools[0][0], kDown);
  EXPECT_EQ(states.changes[0][0].reason, "agent: stopped") << "the change that took it down";
  // Its up now: both say up.
  ASSERT_TRUE(setAgentVerdict(states, 0, 0, says(kUp, "up"), 40));
  EXPECT_EQ(states.pools[0][0], kUp);
}

TEST(HealthVerdicts, BothDownThenTheAgentsUpLeavesItDownUntilTheChecksAgree) {
  HealthSnapshot states = oneBackend(kUp);
  ASSERT_TRUE(setAgentVerdict(states, 0, 0, says(kDown, "fail"), 10));
  EXPECT_FALSE(setChecksVerdict(states, 0, 0, kDown, "refused", 20));
  EXPECT_FALSE(setAgentVerdict(states, 0, 0, says(kUp, "up"), 30));
  EXPECT_EQ(states.pools[0][0], kDown);
  ASSERT_TRUE(setChecksVerdict(states, 0, 0, kUp, "connected", 40));
  EXPECT_EQ(states.pools[0][0], kUp);
}

TEST(HealthVerdicts, AnotherDescriptionRenewsTheReasonNotTheTime) {
  HealthSnapshot states = oneBackend(kUp);
  ASSERT_TRUE(setAgentVerdict(states, 0, 0, says(kDown, "down#disk full"), 10));
  EXPECT_FALSE(setAgentVerdict(states, 0, 0, says(kDown, "down#disk still full"), 20));
  EXPECT_EQ(states.changes[0][0].reason, "agent: down#disk still full");
  EXPECT_EQ(states.changes[0][0].unix_ms, 10);
}

TEST(HealthVerdicts, AnAgentsDownBeforeTheFirstCheckHoldsAfterIt) {
  HealthSnapshot states = oneBackend(kUnknown);
  ASSERT_TRUE(setAgentVerdict(states, 0, 0, says(kDown, "down"), 10));
  EXPECT_EQ(states.changes[0][0].from, kUnknown);
  EXPECT_FALSE(setChecksVerdict(states, 0, 0, kUp, "connected", 20));
  EXPECT_EQ(states.pools[0][0], kDown);
}

}  // namespace
}  // namespace l4lb::control
