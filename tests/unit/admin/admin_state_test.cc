#include "admin/admin_state.h"

#include <gtest/gtest.h>

namespace l4lb::admin {
namespace {

using control::BackendState;

TEST(AdminStateTest, ParsesTheThreeActions) {
  EXPECT_EQ(parseAdminAction("enable"), control::AdminState::kEnabled);
  EXPECT_EQ(parseAdminAction("drain"), control::AdminState::kDraining);
  EXPECT_EQ(parseAdminAction("disable"), control::AdminState::kDisabled);
  EXPECT_FALSE(parseAdminAction("draining"));
  EXPECT_FALSE(parseAdminAction(""));
  EXPECT_FALSE(parseAdminAction("Enable"));
}

TEST(AdminStateTest, OnlyEnabledTakesNewConnections) {
  EXPECT_TRUE(control::adminAllowsNew(control::AdminState::kEnabled));
  EXPECT_FALSE(control::adminAllowsNew(control::AdminState::kDraining));
  EXPECT_FALSE(control::adminAllowsNew(control::AdminState::kDisabled));
}

TEST(AdminStateTest, ShownStateLetsTheOperatorWin) {
  EXPECT_EQ(shownStateName(control::AdminState::kDraining, control::BackendState::kUp, true),
            "draining");
  EXPECT_EQ(shownStateName(control::AdminState::kDisabled, control::BackendState::kDown, true),
            "disabled");
  EXPECT_EQ(shownStateName(control::AdminState::kEnabled, control::BackendState::kDown, true),
            "down");
  EXPECT_EQ(shownStateName(control::AdminState::kEnabled, control::BackendState::kUp, true), "up");
  EXPECT_EQ(shownStateName(control::AdminState::kEnabled, control::BackendState::kUnknown, true),
            "unknown");
  // Without active checks a backend is up.
  EXPECT_EQ(shownStateName(control::AdminState::kEnabled, control::BackendState::kUnknown, false),
            "up");
}

}  // namespace
}  // namespace l4lb::admin
