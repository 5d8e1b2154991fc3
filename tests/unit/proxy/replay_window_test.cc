// The retry_on window's judgement of a backend's first answers, and a replay's pacing.
#include "proxy/replay_window.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "config/loader.h"

namespace l4lb::proxy {
namespace {

using namespace std::string_view_literals;

config::PoolConfig poolWith(const std::string& lines) {
  const std::string text =
      "[[listener]]\nbind = \"tcp://127.0.0.1:1\"\npool = \"p\"\n[admin]\nlisten = []\n"
      "[pool.p]\nbackends = [{ address = \"tcp://127.0.0.1:2\" }]\n" +
      lines;
  auto loaded = config::loadConfigText(text, "replay_window_test.toml");
  EXPECT_TRUE(loaded.ok());
  return loaded.config->pools[0];
}

std::span<const std::uint8_t> bytes(std::string_view text) {
  return {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()};
}

constexpr std::string_view kPgsql =
    "retry_on = [\"conn-failure\", \"empty-response\", \"refused-greeting\"]\n"
    "health = { check = \"pgsql\", user = \"l4lb\" }\n";

TEST(ReplayWindow, StaysShutWithoutRetryOnPastTheConnect) {
  ReplayWindow window;
  EXPECT_FALSE(window.open(poolWith("")));
  EXPECT_FALSE(window.retriesEmptyResponse());
}

TEST(ReplayWindow, AnyAnswerEndsItWhenTheProtocolIsUnknown) {
  ReplayWindow window;
  ASSERT_TRUE(window.open(poolWith("retry_on = [\"empty-response\"]\n")));
  EXPECT_TRUE(window.retriesEmptyResponse());
  EXPECT_EQ(window.judge(bytes("N")), ReplayWindow::Answer::kFinal);
}

TEST(ReplayWindow, ANegotiationAnswerKeepsItOpenAndARefusalAsksForAnotherBackend) {
  ReplayWindow window;
  ASSERT_TRUE(window.open(poolWith(std::string(kPgsql))));
  EXPECT_EQ(window.judge(bytes("N")), ReplayWindow::Answer::kNegotiation);
  EXPECT_EQ(window.judge(bytes("E\0\0\0\x08SFATAL"sv)), ReplayWindow::Answer::kRefused);
}

TEST(ReplayWindow, AReplaySkipsTheNegotiationAnswersTheClientHasSeenAndPacesItsRequests) {
  ReplayWindow window;
  ASSERT_TRUE(window.open(poolWith(std::string(kPgsql))));
  EXPECT_EQ(window.judge(bytes("N")), ReplayWindow::Answer::kNegotiation);
  EXPECT_EQ(window.sendLimit(0), 0U);  // not replaying: no limit
  window.replay();
  EXPECT_TRUE(window.replaying());
  // Only the 8-byte SSLRequest (after a 12-byte PROXY header) may go before its answer.
  EXPECT_EQ(window.sendLimit(12), 20U);
  EXPECT_EQ(window.judge(bytes("N")), ReplayWindow::Answer::kRepeated);
  EXPECT_FALSE(window.replaying());
  EXPECT_EQ(window.sendLimit(12), 0U);
}

TEST(ReplayWindow, AReplacementThatAnswersTheNegotiationOtherwiseIsAMismatch) {
  ReplayWindow window;
  ASSERT_TRUE(window.open(poolWith(std::string(kPgsql))));
  EXPECT_EQ(window.judge(bytes("N")), ReplayWindow::Answer::kNegotiation);
  window.replay();
  EXPECT_EQ(window.judge(bytes("R\0\0\0\x08\0\0\0\0"sv)), ReplayWindow::Answer::kMismatch);
}

}  // namespace
}  // namespace l4lb::proxy
