#include "admin/state_file.h"

#include <gtest/gtest.h>

#include "admin/controller.h"
#include "config/loader.h"

namespace l4lb::admin {
namespace {

config::Config load(std::uint32_t weight_of_b) {
  auto loaded = config::loadConfigText(
      "[[listener]]\nbind = \"tcp://127.0.0.1:7000\"\npool = \"web\"\n\n[pool.web]\nbackends = "
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
  auto parsed = parseStateFile(renderStateFile(config, states), "state.json");
  ASSERT_TRUE(parsed) << parsed.error().message();
  ASSERT_EQ(parsed->size(), 2U);
  EXPECT_EQ((*parsed)[0].backend, "a");
  EXPECT_EQ((*parsed)[0].state, control::AdminState::kDraining);
  EXPECT_EQ((*parsed)[1].weight, 9U);
  EXPECT_EQ((*parsed)[1].config_weight, 2U);
  EXPECT_FALSE(parseStateFile("{}", "x"));
  EXPECT_FALSE(parseStateFile("not json", "x"));
  EXPECT_FALSE(parseStateFile(R"({"l4lb_state": 1, "backends": [{"pool": "web"}]})", "x"));
}

TEST(StateFile, ARestoredWeightYieldsToAnEditedFile) {
  std::vector<SavedBackend> saved{
      {"web", "a", "tcp://127.0.0.1:7001", control::AdminState::kDisabled, 1, 1},
      {"web", "b", "tcp://127.0.0.1:7002", control::AdminState::kEnabled, 9, 2},
      {"web", "gone", "tcp://127.0.0.1:7003", control::AdminState::kDraining, 1, 1}};
  {
    const config::Config same = load(2);
    Controller controller(same, StartInfo{}, ControllerHooks{});
    EXPECT_EQ(restoreState(controller, same, saved), 2U);
    EXPECT_EQ(controller.stateOf(0, 0), control::AdminState::kDisabled);
    EXPECT_EQ(controller.weightOf(0, 1), 9U);
  }
  const config::Config edited = load(3);  // the file's weight of b changed since: it wins
  Controller controller(edited, StartInfo{}, ControllerHooks{});
  EXPECT_EQ(restoreState(controller, edited, saved), 1U);
  EXPECT_EQ(controller.weightOf(0, 1), 3U);
}

TEST(StateFile, AMissingFileIsNoState) {
  auto read = readStateFile("/nonexistent/l4lb-state.json");
  ASSERT_TRUE(read) << read.error().message();
  EXPECT_TRUE(read->empty());
}

}  // namespace
}  // namespace l4lb::admin
