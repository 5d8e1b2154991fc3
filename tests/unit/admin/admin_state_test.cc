#include "admin/admin_state.h"

#include <gtest/gtest.h>

namespace l4lb::admin {
namespace {

using health::BackendState;

TEST(AdminStateTest, ParsesTheThreeActions) {
  EXPECT_EQ(parseAdminAction("enable"), AdminState::kEnabled);
  EXPECT_EQ(parseAdminAction("drain"), AdminState::kDraining);
  EXPECT_EQ(parseAdminAction("disable"), AdminState::kDisabled);
  EXPECT_FALSE(parseAdminAction("draining"));
  EXPECT_FALSE(parseAdminAction(""));
  EXPECT_FALSE(parseAdminAction("Enable"));
}

TEST(AdminStateTest, OnlyEnabledTakesNewConnections) {
  EXPECT_TRUE(adminAllowsNew(AdminState::kEnabled));
  EXPECT_FALSE(adminAllowsNew(AdminState::kDraining));
  EXPECT_FALSE(adminAllowsNew(AdminState::kDisabled));
}

TEST(AdminStateTest, ShownStateLetsTheOperatorWin) {
  EXPECT_EQ(shownStateName(AdminState::kDraining, BackendState::kUp, true), "draining");
  EXPECT_EQ(shownStateName(AdminState::kDisabled, BackendState::kDown, true), "disabled");
  EXPECT_EQ(shownStateName(AdminState::kEnabled, BackendState::kDown, true), "down");
  EXPECT_EQ(shownStateName(AdminState::kEnabled, BackendState::kUp, true), "up");
  EXPECT_EQ(shownStateName(AdminState::kEnabled, BackendState::kUnknown, true), "unknown");
  // Without active checks a backend is up.
  EXPECT_EQ(shownStateName(AdminState::kEnabled, BackendState::kUnknown, false), "up");
}

}  // namespace
}  // namespace l4lb::admin
