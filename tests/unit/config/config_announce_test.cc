#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"
#include "config_test_util.h"

namespace l4lb::config {
namespace {

using namespace std::chrono_literals;
using testing::expectError;
using testing::kValidTail;
using testing::lines;
using testing::load;

// A listener "vip" on `bind` with announce = true (line 5), after a [global] of `global_lines`.
std::string announcing(std::string_view bind, std::initializer_list<std::string_view> global) {
  std::string text = "[global]\n";
  for (std::string_view line : global) text += std::string(line) + "\n";
  return text +
         lines({"[[listener]]", "name = \"vip\"", "bind = \"" + std::string(bind) + "\"",
                "pool = \"ok\"", "announce = true"}) +
         kValidTail;
}

TEST(ConfigAnnounceTest, DefaultsAnnounceNothing) {
  auto result = load(kValidTail);
  ASSERT_TRUE(result.ok()) << testing::describeErrors(result);
  const GlobalConfig& global = result.config->global;
  EXPECT_TRUE(global.announce_interface.empty());
  EXPECT_EQ(global.announce_min_backends, 1U);
  EXPECT_EQ(global.announce_hold_down, 5s);
  EXPECT_EQ(global.announce_hold_down_max, 60s);
  EXPECT_EQ(global.withdraw_grace, 5s);
  EXPECT_FALSE(result.config->listeners[0].announce);
}

TEST(ConfigAnnounceTest, EveryKeyIsRead) {
  auto result = load(lines({"[global]", "announce_interface = \"l4vip0\"",
                            "announce_min_backends = 2", "announce_hold_down = \"2s\"",
                            "announce_hold_down_max = \"30s\"", "withdraw_grace = \"1s\"",
                            "[[listener]]", "name = \"vip\"", "bind = \"tcp://192.0.2.10:80\"",
                            "pool = \"ok\"", "announce = true", "announce_min_backends = 3"}) +
                     kValidTail);
  ASSERT_TRUE(result.ok()) << testing::describeErrors(result);
  const Config& config = *result.config;
  EXPECT_EQ(config.global.announce_interface, "l4vip0");
  EXPECT_EQ(config.global.announce_min_backends, 2U);
  EXPECT_EQ(config.global.announce_hold_down, 2s);
  EXPECT_EQ(config.global.announce_hold_down_max, 30s);
  EXPECT_EQ(config.global.withdraw_grace, 1s);
  EXPECT_TRUE(config.listeners[0].announce);
  EXPECT_EQ(config.listeners[0].announce_min_backends, 3U);
}

TEST(ConfigAnnounceTest, AWildcardBindCannotBeAnnounced) {
  expectError(load(announcing("tcp://0.0.0.0:80", {"announce_interface = \"l4vip0\""})),
              "listener[0].announce", 7, "wildcard");
  expectError(load(announcing("udp://[::]:53", {"announce_interface = \"l4vip0\""})),
              "listener[0].announce", 7, "wildcard");
}

TEST(ConfigAnnounceTest, OnlyIpListenersCanBeAnnounced) {
  expectError(load(announcing("unix:///run/x.sock", {"announce_interface = \"l4vip0\""})),
              "listener[0].announce", 7, "only tcp:// and udp://");
}

TEST(ConfigAnnounceTest, AnnounceNeedsTheInterface) {
  expectError(load(announcing("tcp://192.0.2.10:80", {})), "listener[0].announce", 6,
              "needs [global] announce_interface");
}

TEST(ConfigAnnounceTest, TheInterfaceNameIsChecked) {
  for (const char* bad : {"l4/vip", "a-name-far-too-long", "two words", "."}) {
    expectError(load(announcing("tcp://192.0.2.10:80",
                                {"announce_interface = \"" + std::string(bad) + "\""})),
                "global.announce_interface", 2, "interface name");
  }
}

TEST(ConfigAnnounceTest, TheLongestHoldDownIsAtLeastTheFirst) {
  expectError(
      load(lines({"[global]", "announce_hold_down = \"10s\"", "announce_hold_down_max = \"5s\""}) +
           kValidTail),
      "global.announce_hold_down_max", 3, "at least announce_hold_down");
}

TEST(ConfigAnnounceTest, MinBackendsIsAtLeastOne) {
  expectError(load(lines({"[global]", "announce_min_backends = 0"}) + kValidTail),
              "global.announce_min_backends", 2, "");
}

}  // namespace
}  // namespace l4lb::config
