#include "admin/state_file.h"

#include <gtest/gtest.h>

#include "admin/controller.h"
#include "config/loader.h"

namespace l4lb::admin {
namespace {

config::Config load(std::uint32_t weight_of_b) {
  auto loaded = config::loadConfigText(
      "[[listener]]\nname = \"front\"\nbind = \"tcp://127.0.0.1:7000\"\npool = \"web\"\n\n"
      "[pool.web]\nbackends = "
      "[{ address = \"tcp://127.0.0.1:7001\", name = \"a\" }, { address = "
      "\"tcp://127.0.0.1:7002\", name = \"b\", weight = " +
          std::to_string(weight_of_b) + " }]\n",
      "state_test.toml");
  EXPECT_TRUE(loaded.ok());
  return std::move(*loaded.config);
}

TEST(StateFile, RendersAndParsesBack) {
  const config::Config config = load(2);
  control::AdminSnapshot states;
  states.states = {{control::AdminState::kDraining, control::AdminState::kEnabled}};
  states.weights = {{1, 9}};
  const std::vector<SavedListener> listeners{{"front", control::AdminState::kDraining},
                                             {"gone", control::AdminState::kDisabled},
                                             {"open", control::AdminState::kEnabled}};
  auto parsed = parseStateFile(renderStateFile(config, states, listeners), "state.json");
  ASSERT_TRUE(parsed) << parsed.error().message();
  ASSERT_EQ(parsed->backends.size(), 2U);
  EXPECT_EQ(parsed->backends[0].backend, "a");
  EXPECT_EQ(parsed->backends[0].state, control::AdminState::kDraining);
  EXPECT_EQ(parsed->backends[1].weight, 9U);
  EXPECT_EQ(parsed->backends[1].config_weight, 2U);
  // An enabled listener is the default: not kept.
  ASSERT_EQ(parsed->listeners.size(), 2U);
  EXPECT_EQ(parsed->listeners[0].listener, "front");
  EXPECT_EQ(parsed->listeners[0].state, control::AdminState::kDraining);
  EXPECT_EQ(parsed->listeners[1].listener, "gone");
  EXPECT_EQ(parsed->listeners[1].state, control::AdminState::kDisabled);
  EXPECT_FALSE(parseStateFile("{}", "x"));
  EXPECT_FALSE(parseStateFile("not json", "x"));
  EXPECT_FALSE(parseStateFile(R"({"l4lb_state": 1, "backends": [{"pool": "web"}]})", "x"));
  EXPECT_FALSE(parseStateFile(R"({"l4lb_state": 1, "backends": [], "listeners": {}})", "x"));
  EXPECT_FALSE(parseStateFile(
      R"({"l4lb_state": 1, "backends": [], "listeners": [{"listener": "front"}]})", "x"));
  EXPECT_FALSE(parseStateFile(
      R"({"l4lb_state": 1, "backends": [], "listeners": [{"state": "draining"}]})", "x"));
}

// Files written before listeners were kept: read as they were, with no listener.
TEST(StateFile, AFileWithoutListenersIsStillRead) {
  auto parsed = parseStateFile(R"({
 "l4lb_state": 1,
 "backends": [
  {"pool": "web", "backend": "a", "address": "tcp://127.0.0.1:7001", "state": "disabled",
   "weight": 1, "config_weight": 1}
 ]
})",
                               "old.json");
  ASSERT_TRUE(parsed) << parsed.error().message();
  ASSERT_EQ(parsed->backends.size(), 1U);
  EXPECT_EQ(parsed->backends[0].state, control::AdminState::kDisabled);
  EXPECT_TRUE(parsed->listeners.empty());
}

TEST(StateFile, ListenersOfTheConfigAreRestored) {
  const config::Config config = load(2);
  std::vector<std::string> saved_texts;
  ControllerHooks hooks;
  hooks.save_state = [&](const std::string& text) { saved_texts.push_back(text); };
  Controller controller(config, StartInfo{}, std::move(hooks));
  SavedState saved;
  saved.listeners = {{"front", control::AdminState::kDisabled},
                     {"gone", control::AdminState::kDraining}};
  saved.backends = {{"web", "a", "tcp://127.0.0.1:7001", control::AdminState::kDraining, 1, 1}};
  const RestoredCounts restored = restoreState(controller, config, saved);
  EXPECT_EQ(restored.listeners, 1U);
  EXPECT_EQ(restored.backends, 1U);
  EXPECT_TRUE(controller.listenerWithdrawn("front"));
  EXPECT_FALSE(controller.listenerWithdrawn("gone"));
  // The backend's restore saved the file: with the listener restored before it.
  ASSERT_FALSE(saved_texts.empty());
  auto written = parseStateFile(saved_texts.back(), "state.json");
  ASSERT_TRUE(written) << written.error().message();
  ASSERT_EQ(written->listeners.size(), 1U);
  EXPECT_EQ(written->listeners[0].listener, "front");
  EXPECT_EQ(written->listeners[0].state, control::AdminState::kDisabled);
}

TEST(StateFile, AnOperatorsListenerChangeIsSaved) {
  const config::Config config = load(2);
  std::vector<std::string> saved_texts;
  ControllerHooks hooks;
  hooks.save_state = [&](const std::string& text) { saved_texts.push_back(text); };
  Controller controller(config, StartInfo{}, std::move(hooks));
  ASSERT_EQ(controller.changeListener("front", R"({"state": "drain"})").status, 200);
  ASSERT_EQ(saved_texts.size(), 1U);
  auto written = parseStateFile(saved_texts.back(), "state.json");
  ASSERT_TRUE(written) << written.error().message();
  ASSERT_EQ(written->listeners.size(), 1U);
  EXPECT_EQ(written->listeners[0].state, control::AdminState::kDraining);
  ASSERT_EQ(controller.changeListener("front", R"({"state": "enable"})").status, 200);
  ASSERT_EQ(saved_texts.size(), 2U);
  written = parseStateFile(saved_texts.back(), "state.json");
  ASSERT_TRUE(written) << written.error().message();
  EXPECT_TRUE(written->listeners.empty());
}

TEST(StateFile, ARestoredWeightYieldsToAnEditedFile) {
  SavedState saved;
  saved.backends = {{"web", "a", "tcp://127.0.0.1:7001", control::AdminState::kDisabled, 1, 1},
                    {"web", "b", "tcp://127.0.0.1:7002", control::AdminState::kEnabled, 9, 2},
                    {"web", "gone", "tcp://127.0.0.1:7003", control::AdminState::kDraining, 1, 1}};
  {
    const config::Config same = load(2);
    Controller controller(same, StartInfo{}, ControllerHooks{});
    EXPECT_EQ(restoreState(controller, same, saved).backends, 2U);
    EXPECT_EQ(controller.stateOf(0, 0), control::AdminState::kDisabled);
    EXPECT_EQ(controller.weightOf(0, 1), 9U);
  }
  const config::Config edited = load(3);  // the file's weight of b changed since: it wins
  Controller controller(edited, StartInfo{}, ControllerHooks{});
  EXPECT_EQ(restoreState(controller, edited, saved).backends, 1U);
  EXPECT_EQ(controller.weightOf(0, 1), 3U);
}

TEST(StateFile, AMissingFileIsNoState) {
  auto read = readStateFile("/nonexistent/l4lb-state.json");
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_TRUE(read->backends.empty() && read->listeners.empty());
}

}  // namespace
}  // namespace l4lb::admin
