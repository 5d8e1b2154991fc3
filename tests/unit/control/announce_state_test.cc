#include "control/announce_state.h"

#include <gtest/gtest.h>

namespace l4lb::control {
namespace {

using namespace std::chrono_literals;

constexpr AnnounceInputs kHealthy{.serving = true, .backends_up = 2, .min_backends = 1};

AnnounceInputs withUp(std::uint32_t up) {
  AnnounceInputs inputs = kHealthy;
  inputs.backends_up = up;
  return inputs;
}

AnnounceState makeState() {
  return AnnounceState(AnnounceTiming{.hold_down = 5s, .hold_down_max = 40s});
}

TEST(AnnounceState, NotServingIsWithdrawnAndSaysSo) {
  AnnounceState state = makeState();
  AnnounceInputs inputs = kHealthy;
  inputs.serving = false;
  EXPECT_FALSE(state.update(inputs, 0));
  EXPECT_FALSE(state.announced());
  EXPECT_EQ(state.reason(), WithdrawReason::kNotServing);
}

TEST(AnnounceState, FirstAnnouncementIsImmediateOnceHealthy) {
  AnnounceState state = makeState();
  EXPECT_FALSE(state.update(withUp(0), 0));
  EXPECT_EQ(state.reason(), WithdrawReason::kTooFewBackends);
  EXPECT_TRUE(state.update(withUp(1), 100));
  EXPECT_TRUE(state.announced());
  EXPECT_EQ(state.reason(), WithdrawReason::kNone);
  EXPECT_EQ(state.changes(), 1U);
}

TEST(AnnounceState, MinBackendsCounts) {
  AnnounceState state = makeState();
  AnnounceInputs inputs = withUp(2);
  inputs.min_backends = 3;
  EXPECT_FALSE(state.update(inputs, 0));
  EXPECT_EQ(state.reason(), WithdrawReason::kTooFewBackends);
  inputs.backends_up = 3;
  EXPECT_TRUE(state.update(inputs, 1));
  EXPECT_TRUE(state.announced());
}

TEST(AnnounceState, WithdrawnAtOnceWhenBackendsGo) {
  AnnounceState state = makeState();
  ASSERT_TRUE(state.update(kHealthy, 0));
  EXPECT_TRUE(state.update(withUp(0), 1));
  EXPECT_FALSE(state.announced());
  EXPECT_EQ(state.reason(), WithdrawReason::kTooFewBackends);
}

TEST(AnnounceState, ReannouncedOnlyAfterHoldDown) {
  AnnounceState state = makeState();
  ASSERT_TRUE(state.update(kHealthy, 0));
  ASSERT_TRUE(state.update(withUp(0), 60'000));
  EXPECT_FALSE(state.update(kHealthy, 61'000));  // healthy again since 61 s
  EXPECT_EQ(state.reason(), WithdrawReason::kHoldDown);
  EXPECT_EQ(state.holdDownUntil(), 66'000);
  EXPECT_FALSE(state.update(kHealthy, 65'999));
  EXPECT_TRUE(state.update(kHealthy, 66'000));
  EXPECT_TRUE(state.announced());
}

TEST(AnnounceState, UnhealthyDuringHoldDownStartsItAgain) {
  AnnounceState state = makeState();
  ASSERT_TRUE(state.update(kHealthy, 0));
  ASSERT_TRUE(state.update(withUp(0), 60'000));
  EXPECT_FALSE(state.update(kHealthy, 61'000));
  EXPECT_FALSE(state.update(withUp(0), 63'000));
  EXPECT_FALSE(state.update(kHealthy, 64'000));
  EXPECT_EQ(state.holdDownUntil(), 69'000);
  EXPECT_FALSE(state.update(kHealthy, 66'000));
  EXPECT_TRUE(state.update(kHealthy, 69'000));
}

TEST(AnnounceState, HoldDownDoublesWhileFlappingUpToTheCap) {
  AnnounceState state = makeState();
  std::int64_t now = 0;
  ASSERT_TRUE(state.update(kHealthy, now));
  // Each round: withdrawn soon after the announcement, healthy again, re-announced after the
  // hold-down. 5 s first, then 10, 20, 40, 40 (the cap).
  const std::int64_t expected[] = {5'000, 10'000, 20'000, 40'000, 40'000};
  for (const std::int64_t hold : expected) {
    now += 1'000;
    ASSERT_TRUE(state.update(withUp(0), now));
    EXPECT_EQ(state.holdDown().count(), hold);
    now += 1;
    EXPECT_FALSE(state.update(kHealthy, now));
    EXPECT_EQ(state.holdDownUntil(), now + hold);
    EXPECT_FALSE(state.update(kHealthy, now + hold - 1));
    now += hold;
    ASSERT_TRUE(state.update(kHealthy, now));
  }
}

TEST(AnnounceState, HoldDownGoesBackToBaseOnceStable) {
  AnnounceState state = makeState();
  ASSERT_TRUE(state.update(kHealthy, 0));
  ASSERT_TRUE(state.update(withUp(0), 1'000));
  ASSERT_FALSE(state.update(kHealthy, 1'000));
  ASSERT_TRUE(state.update(kHealthy, 6'000));
  ASSERT_TRUE(state.update(withUp(0), 7'000));  // flapped: 10 s next
  EXPECT_EQ(state.holdDown().count(), 10'000);
  ASSERT_FALSE(state.update(kHealthy, 7'000));
  ASSERT_TRUE(state.update(kHealthy, 17'000));
  EXPECT_FALSE(state.update(kHealthy, 57'000));  // announced for hold_down_max
  EXPECT_EQ(state.holdDown().count(), 5'000);
  ASSERT_TRUE(state.update(withUp(0), 58'000));
  EXPECT_EQ(state.holdDown().count(), 5'000);
}

TEST(AnnounceState, OperatorWithdrawsAtOnceAndReenableNeedsNoHoldDown) {
  AnnounceState state = makeState();
  ASSERT_TRUE(state.update(kHealthy, 0));
  AnnounceInputs drained = kHealthy;
  drained.operator_withdrawn = true;
  EXPECT_TRUE(state.update(drained, 1'000));
  EXPECT_EQ(state.reason(), WithdrawReason::kOperator);
  EXPECT_TRUE(state.update(kHealthy, 1'001));
  EXPECT_TRUE(state.announced());
}

TEST(AnnounceState, StoppingWinsOverEveryOtherReason) {
  AnnounceState state = makeState();
  ASSERT_TRUE(state.update(kHealthy, 0));
  AnnounceInputs stopping = withUp(0);
  stopping.operator_withdrawn = true;
  stopping.stopping = true;
  EXPECT_TRUE(state.update(stopping, 1));
  EXPECT_EQ(state.reason(), WithdrawReason::kStopping);
  EXPECT_EQ(state.changes(), 2U);
}

TEST(AnnounceState, AssumedAnnouncedStaysWhileHealthyAndWithdrawsWhenNot) {
  AnnounceState state = makeState();
  state.assumeAnnounced(0);
  EXPECT_FALSE(state.update(kHealthy, 1));
  EXPECT_TRUE(state.announced());
  EXPECT_TRUE(state.update(withUp(0), 2));
  EXPECT_FALSE(state.announced());
}

AnnounceInputs unsynced(std::uint32_t up) {
  AnnounceInputs inputs = withUp(up);
  inputs.discovery_synced = false;
  return inputs;
}

TEST(AnnounceState, NotAnnouncedBeforeDiscoveryHasSyncedEvenWithBackendsUp) {
  AnnounceState state = makeState();
  EXPECT_FALSE(state.update(unsynced(2), 0));
  EXPECT_FALSE(state.announced());
  EXPECT_EQ(state.reason(), WithdrawReason::kDiscoveryNotSynced);
  EXPECT_EQ(withdrawReasonName(state.reason()), "discovery not synced");
  // Synced: announced at once (waiting for discovery is no withdrawal for health).
  EXPECT_TRUE(state.update(kHealthy, 10'000));
  EXPECT_TRUE(state.announced());
  EXPECT_EQ(state.changes(), 1U);
}

TEST(AnnounceState, DiscoveryNotSyncedExplainsAPoolWithoutBackends) {
  AnnounceState state = makeState();
  EXPECT_FALSE(state.update(unsynced(0), 0));
  EXPECT_EQ(state.reason(), WithdrawReason::kDiscoveryNotSynced);
  // Synced with no backends (an empty answer): the backends are the reason now.
  EXPECT_FALSE(state.update(withUp(0), 1));
  EXPECT_EQ(state.reason(), WithdrawReason::kTooFewBackends);
}

TEST(AnnounceState, TheOperatorAndNotServingComeBeforeDiscovery) {
  AnnounceState state = makeState();
  AnnounceInputs inputs = unsynced(2);
  inputs.operator_withdrawn = true;
  EXPECT_FALSE(state.update(inputs, 0));
  EXPECT_EQ(state.reason(), WithdrawReason::kOperator);
  inputs.operator_withdrawn = false;
  inputs.serving = false;
  EXPECT_FALSE(state.update(inputs, 1));
  EXPECT_EQ(state.reason(), WithdrawReason::kNotServing);
}

TEST(AnnounceState, DiscoveryNeverWithdrawsAnAnnouncedVip) {
  AnnounceState state = makeState();
  ASSERT_TRUE(state.update(kHealthy, 0));
  // The source starts again (a reload changed it) or fails: its backends stay, so does the VIP.
  EXPECT_FALSE(state.update(unsynced(2), 1'000));
  EXPECT_TRUE(state.announced());
  // A real loss of backends still withdraws, and the way back waits for the source again.
  EXPECT_TRUE(state.update(unsynced(0), 2'000));
  EXPECT_EQ(state.reason(), WithdrawReason::kTooFewBackends);
  EXPECT_FALSE(state.update(unsynced(2), 60'000));
  EXPECT_EQ(state.reason(), WithdrawReason::kDiscoveryNotSynced);
  // The hold-down counts from when the pool became healthy (60 s), waiting or not.
  EXPECT_FALSE(state.update(kHealthy, 64'999));
  EXPECT_EQ(state.reason(), WithdrawReason::kHoldDown);
  EXPECT_TRUE(state.update(kHealthy, 65'000));
}

TEST(AnnounceState, AVipAnnouncedByTheProcessBeforeStaysWhileDiscoveryStarts) {
  AnnounceState state = makeState();
  state.assumeAnnounced(0);  // a binary upgrade: the new process's source has not answered yet
  EXPECT_FALSE(state.update(unsynced(2), 1));
  EXPECT_TRUE(state.announced());
  EXPECT_EQ(state.changes(), 0U);
}

TEST(BackendsUp, CountsUpAndEnabledBackendsOnly) {
  HealthSnapshot health;
  health.pools = {
      {BackendState::kUp, BackendState::kDown, BackendState::kUp, BackendState::kUnknown}};
  const std::vector<AdminState> admin = {AdminState::kEnabled, AdminState::kEnabled,
                                         AdminState::kDraining, AdminState::kEnabled};
  EXPECT_EQ(backendsUp(&health, &admin, 0, 4, /*checked=*/true), 1U);
  EXPECT_EQ(backendsUp(&health, nullptr, 0, 4, /*checked=*/true), 2U);
  EXPECT_EQ(backendsUp(nullptr, &admin, 0, 4, /*checked=*/false), 3U);
}

TEST(BackendsUp, ASnapshotOfAnotherConfigCountsNothingUp) {
  HealthSnapshot health;
  health.pools = {{BackendState::kUp}};
  EXPECT_EQ(backendsUp(&health, nullptr, 0, 2, /*checked=*/true), 0U);
  EXPECT_EQ(backendsUp(nullptr, nullptr, 0, 2, /*checked=*/true), 0U);
}

}  // namespace
}  // namespace l4lb::control
