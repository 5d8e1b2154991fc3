#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "config/loader.h"
#include "config_test_util.h"

namespace l4lb::config {
namespace {

using namespace std::string_view_literals;
using testing::describeErrors;
using testing::expectError;
using testing::findError;
using testing::kValidTail;
using testing::lines;
using testing::load;

TEST(ConfigErrorsTest, SyntaxErrorHasPositionAndNoKey) {
  LoadResult result = load(lines({"[global]", "workers = 2", "log_level = \"info"}));
  ASSERT_FALSE(result.ok());
  ASSERT_EQ(result.errors.size(), 1U) << describeErrors(result);
  const ConfigError& e = result.errors[0];
  EXPECT_EQ(e.line, 3U);
  EXPECT_GT(e.column, 0U);
  EXPECT_EQ(e.key, "");
  EXPECT_EQ(e.file, "test.toml");
  EXPECT_EQ(e.message.rfind("TOML syntax error: ", 0), 0U) << e.message;
  EXPECT_EQ(e.format().rfind("test.toml:3:", 0), 0U) << e.format();
}

// Found by config_fuzz: a table header whose key starts with a character that cannot start a
// key breaks a toml++ 3.3 precondition (upstream marzer/tomlplusplus PR #301). In debug builds of
// toml++ that is an assertion; the loader must still answer with an ordinary syntax error.
TEST(ConfigErrorsTest, MalformedTableHeadersAreSyntaxErrors) {
  for (std::string_view text : {"[[[1]]]"sv, "[[[]]"sv, "[[="sv, "[\0\0 x]"sv}) {
    LoadResult result = load(std::string(text));
    ASSERT_EQ(result.errors.size(), 1U) << describeErrors(result);
    EXPECT_EQ(result.errors[0].line, 1U);
    EXPECT_EQ(result.errors[0].message.rfind("TOML syntax error: ", 0), 0U);
  }
}

TEST(ConfigErrorsTest, DuplicateTomlKeyIsASyntaxError) {
  LoadResult result = load(lines({"[global]", "workers = 2", "workers = 3"}));
  ASSERT_EQ(result.errors.size(), 1U) << describeErrors(result);
  EXPECT_EQ(result.errors[0].line, 3U);
}

TEST(ConfigErrorsTest, UnknownKeysEverywhereWithSuggestions) {
  LoadResult result = load(lines({
      "[globl]",                                                       // 1
      "[global]",                                                      // 2
      "worker = 2",                                                    // 3
      "[[listener]]",                                                  // 4
      "bnd = \"tcp://127.0.0.1:1\"",                                   // 5
      "bind = \"tcp://127.0.0.1:1\"",                                  // 6
      "pool = \"p\"",                                                  // 7
      "[pool.p]",                                                      // 8
      "balanse = \"first\"",                                           // 9
      "colour = \"red\"",                                              // 10
      "backends = [{ address = \"tcp://127.0.0.1:2\", wieght = 3 }]",  // 11
  }));
  expectError(result, "globl", 1, "did you mean \"global\"?");
  expectError(result, "global.worker", 3, "did you mean \"workers\"?");
  expectError(result, "listener[0].bnd", 5, "did you mean \"bind\"?");
  expectError(result, "pool.p.balanse", 9, "did you mean \"balance\"?");
  // Nothing close: list the keys that are allowed instead.
  expectError(result, "pool.p.colour", 10, "unknown key; expected \"balance\", \"hash_key\"");
  expectError(result, "pool.p.backends[0].wieght", 11, "did you mean \"weight\"?");
  EXPECT_EQ(result.errors.size(), 6U) << describeErrors(result);
}

TEST(ConfigErrorsTest, WrongTypes) {
  LoadResult result = load(lines({
                               "[global]",                      // 1
                               "workers = \"two\"",             // 2
                               "log_level = 3",                 // 3
                               "[[listener]]",                  // 4
                               "bind = \"tcp://127.0.0.1:1\"",  // 5
                               "pool = \"ok\"",                 // 6
                               "backlog = 1.5",                 // 7
                           }) +
                           kValidTail);
  expectError(result, "global.workers", 2, "expected an integer, got a string (\"two\")");
  expectError(result, "global.log_level", 3, "expected a string, got an integer (3)");
  expectError(result, "listener[0].backlog", 7, "expected an integer, got a float (1.5)");
  EXPECT_EQ(result.errors.size(), 3U) << describeErrors(result);
}

TEST(ConfigErrorsTest, WrongSectionShapes) {
  LoadResult single = load(lines({"[listener]", "bind = \"tcp://127.0.0.1:1\""}));
  expectError(single, "listener", 1, "expected an array of tables ([[listener]]), got a table");
  EXPECT_EQ(findError(single, "listener")->message.find("at least one"), std::string::npos);

  LoadResult pools = load(lines({"[[pool]]", "balance = \"first\""}) + kValidTail);
  EXPECT_NE(findError(pools, "pool"), nullptr) << describeErrors(pools);

  LoadResult pool_value = load(kValidTail + lines({"[pool]", "other = 3"}));
  // kValidTail already defines [pool.ok]; [pool] after it is a TOML redefinition error.
  EXPECT_FALSE(pool_value.ok());

  LoadResult backend_string = load(lines({
      "[[listener]]", "bind = \"tcp://127.0.0.1:1\"", "pool = \"p\"", "[pool.p]",
      "backends = [\"tcp://127.0.0.1:2\"]",  // 5
  }));
  expectError(backend_string, "pool.p.backends[0]", 5, "expected a table like { address =");
  EXPECT_EQ(backend_string.errors.size(), 1U) << describeErrors(backend_string);
}

TEST(ConfigErrorsTest, OutOfRangeValues) {
  LoadResult result = load(lines({
      "[global]",                                                // 1
      "workers = 1025",                                          // 2
      "[[listener]]",                                            // 3
      "bind = \"tcp://127.0.0.1:1\"",                            // 4
      "pool = \"p\"",                                            // 5
      "backlog = 0",                                             // 6
      "[[listener]]",                                            // 7
      "name = \"neg\"",                                          // 8
      "bind = \"tcp://127.0.0.1:2\"",                            // 9
      "pool = \"p\"",                                            // 10
      "backlog = -5",                                            // 11
      "[pool.p]",                                                // 12
      "retries = 16",                                            // 13
      "backends = [",                                            // 14
      "  { address = \"tcp://127.0.0.1:3\", weight = 0 },",      // 15
      "  { address = \"tcp://127.0.0.1:4\", weight = 10001 },",  // 16
      "  { address = \"tcp://127.0.0.1:5\", weight = 10000 },",  // 17
      "]",
  }));
  expectError(result, "global.workers", 2, "must be between 0 and 1024, got 1025");
  expectError(result, "listener[0].backlog", 6, "must be at least 1, got 0");
  expectError(result, "listener[1].backlog", 11, "must be at least 1, got -5");
  expectError(result, "pool.p.retries", 13, "must be between 0 and 15, got 16");
  expectError(result, "pool.p.backends[0].weight", 15, "must be between 1 and 10000, got 0");
  expectError(result, "pool.p.backends[1].weight", 16, "must be between 1 and 10000, got 10001");
  EXPECT_EQ(result.errors.size(), 6U) << describeErrors(result);
}

TEST(ConfigErrorsTest, NegativeWorkers) {
  LoadResult result = load(lines({"[global]", "workers = -1"}) + kValidTail);
  expectError(result, "global.workers", 2, "must be between 0 and 1024, got -1");
}

TEST(ConfigErrorsTest, BusyPollOutOfRange) {
  LoadResult result = load(lines({"[global]", "busy_poll_us = 5000"}) + kValidTail);
  expectError(result, "global.busy_poll_us", 2, "must be between 0 and 1000, got 5000");
}

TEST(ConfigErrorsTest, UnknownSpliceMode) {
  LoadResult result = load(lines({"[global]", "splice = \"on\""}) + kValidTail);
  expectError(result, "global.splice", 2, "invalid value \"on\": expected \"auto\" or \"off\"");
}

TEST(ConfigErrorsTest, ConnectionLimits) {
  const std::string unix_listener = lines({
      "[[listener]]",
      "name = \"u\"",
      "bind = \"unix:///tmp/l4lb-test.sock\"",
      "pool = \"ok\"",
      "per_source_max_connections = 3",
      "max_connections = 10",
  });
  LoadResult result =
      load(unix_listener +
           lines({
               "[[listener]]",
               "name = \"t\"",
               "bind = \"tcp://127.0.0.1:7002\"",
               "pool = \"ok\"",
               "per_source_rate = \"10/d\"",
               "max_connections = -1",
           }) +
           lines({"[pool.ok]", "backends = [{ address = \"tcp://127.0.0.1:7001\" }]"}));
  expectError(result, "listener[0].per_source_max_connections", 5,
              "only applies to tcp:// listeners");
  expectError(result, "listener[1].per_source_rate", 11, "unknown unit \"d\"");
  expectError(result, "listener[1].max_connections", 12, "must be between 0 and 10000000");
  EXPECT_EQ(findError(result, "listener[0].max_connections"), nullptr);  // unix may have one
}

TEST(ConfigErrorsTest, AllowAndDenyLists) {
  LoadResult result =
      load(lines({
               "[[listener]]",
               "name = \"t\"",
               "bind = \"tcp://127.0.0.1:7002\"",
               "pool = \"ok\"",
               "allow = [\"192.0.2.1/24\", 7, \"2001:db8::/32\"]",
               "deny = \"10.0.0.0/8\"",
               "[[listener]]",
               "name = \"u\"",
               "bind = \"unix:///tmp/l4lb-acl.sock\"",
               "pool = \"ok\"",
               "deny = [\"10.0.0.0/8\"]",
           }) +
           lines({"[pool.ok]", "backends = [{ address = \"tcp://127.0.0.1:7001\" }]"}));
  expectError(result, "listener[0].allow[0]", 5, "192.0.2.0/24");
  expectError(result, "listener[0].allow[1]", 5, "expected an address range");
  EXPECT_EQ(findError(result, "listener[0].allow[2]"), nullptr);
  expectError(result, "listener[0].deny", 6, "an array of address ranges");
  expectError(result, "listener[1].deny", 11, "only applies to tcp:// and udp://");
}

TEST(ConfigErrorsTest, InvalidDurations) {
  LoadResult result = load(lines({
                               "[global]",                      // 1
                               "shutdown_grace = \"30\"",       // 2
                               "[[listener]]",                  // 3
                               "bind = \"tcp://127.0.0.1:1\"",  // 4
                               "pool = \"ok\"",                 // 5
                               "idle_timeout = 600",            // 6
                               "[[listener]]",                  // 7
                               "name = \"z\"",                  // 8
                               "bind = \"tcp://127.0.0.1:2\"",  // 9
                               "pool = \"ok\"",                 // 10
                               "idle_timeout = \"0s\"",         // 11
                               "[pool.p]",                      // 12
                               "connect_timeout = \"2 s\"",     // 13
                               "backends = [{ address = \"tcp://127.0.0.1:3\" }]",
                               "[pool.q]",                     // 15
                               "connect_timeout = \"9000h\"",  // 16
                               "backends = [{ address = \"tcp://127.0.0.1:3\" }]",
                           }) +
                           kValidTail);
  expectError(result, "global.shutdown_grace", 2, "invalid duration \"30\": expected a number");
  expectError(result, "listener[0].idle_timeout", 6,
              "expected a duration string with a unit, like \"250ms\"");
  expectError(result, "listener[1].idle_timeout", 11, "must be between 1ms and 8760h");
  expectError(result, "pool.p.connect_timeout", 13, "invalid duration \"2 s\"");
  expectError(result, "pool.q.connect_timeout", 16, "must be between 1ms and 8760h");
  EXPECT_EQ(result.errors.size(), 5U) << describeErrors(result);
}

TEST(ConfigErrorsTest, InvalidEnumValuesListTheValidOnes) {
  LoadResult result = load(lines({
                               "[global]",                   // 1
                               "log_level = \"verbose\"",    // 2
                               "[pool.p]",                   // 3
                               "balance = \"round_robin\"",  // 4
                               "backends = [{ address = \"tcp://127.0.0.1:3\" }]",
                               "[pool.q]",               // 6
                               "balance = \"maglev\"",   // 7
                               "hash_key = \"source\"",  // 8
                               "backends = [{ address = \"tcp://127.0.0.1:3\" }]",
                           }) +
                           kValidTail);
  expectError(result, "global.log_level", 2,
              "invalid value \"verbose\": expected \"error\", \"warn\", \"info\" or \"debug\"");
  expectError(result, "pool.p.balance", 4,
              "expected \"round-robin\", \"least-conn\", \"random-two\", \"maglev\" or \"first\" "
              "(did you mean \"round-robin\"?)");
  expectError(result, "pool.q.hash_key", 8,
              "invalid value \"source\": expected \"client-ip\" or \"client-ip-port\"");
  EXPECT_EQ(result.errors.size(), 3U) << describeErrors(result);
}

TEST(ConfigErrorsTest, MissingRequiredKeys) {
  LoadResult result = load(lines({
      "[[listener]]",                 // 1
      "name = \"a\"",                 // 2
      "[pool.empty]",                 // 3
      "backends = []",                // 4
      "[pool.none]",                  // 5
      "retries = 1",                  // 6
      "[pool.p]",                     // 7
      "backends = [{ weight = 2 }]",  // 8
  }));
  expectError(result, "listener[0].bind", 1, "missing required key: every listener needs bind =");
  expectError(result, "listener[0].pool", 1, "missing required key: every listener needs pool =");
  expectError(result, "pool.empty.backends", 4, "at least one backend is required");
  expectError(result, "pool.none.backends", 5, "at least one backend is required");
  expectError(result, "pool.p.backends[0].address", 8,
              "missing required key: every backend needs address =");
  EXPECT_EQ(result.errors.size(), 5U) << describeErrors(result);
}

TEST(ConfigErrorsTest, NoListenersAtAll) {
  LoadResult result = load(lines({"[pool.p]", "backends = [{ address = \"tcp://127.0.0.1:3\" }]"}));
  ASSERT_EQ(result.errors.size(), 1U) << describeErrors(result);
  const ConfigError& e = result.errors[0];
  EXPECT_EQ(e.key, "listener");
  EXPECT_EQ(e.line, 0U);
  EXPECT_EQ(e.format(), "test.toml: listener: at least one [[listener]] is required");

  LoadResult empty = load("");
  expectError(empty, "listener", 0, "at least one [[listener]] is required");
}

// Regression guard for the core promise: one pass reports everything, in file order.
TEST(ConfigErrorsTest, SeveralErrorsInOneFileAreAllReportedInOrder) {
  LoadResult result = load(lines({
      "[global]",                                                      // 1
      "workers = \"two\"",                                             // 2
      "log_level = \"loud\"",                                          // 3
      "[[listener]]",                                                  // 4
      "bind = \"tcp://1.2.3.4\"",                                      // 5
      "pool = \"nope\"",                                               // 6
      "idle_timeout = \"10\"",                                         // 7
      "[pool.p]",                                                      // 8
      "balance = \"fastest\"",                                         // 9
      "backends = [{ address = \"tcp://127.0.0.1:1\", weight = 0 }]",  // 10
  }));
  ASSERT_FALSE(result.ok());
  EXPECT_FALSE(result.config.has_value());
  ASSERT_EQ(result.errors.size(), 7U) << describeErrors(result);
  std::uint32_t expected_lines[] = {2, 3, 5, 6, 7, 9, 10};
  for (std::size_t i = 0; i < result.errors.size(); ++i) {
    EXPECT_EQ(result.errors[i].line, expected_lines[i]) << result.errors[i].format();
    EXPECT_EQ(result.errors[i].file, "test.toml");
  }
  EXPECT_EQ(result.errors[0].format(),
            "test.toml:2:11: global.workers: expected an integer, got a string (\"two\")");
}

TEST(ConfigErrorsTest, QuotesOddPoolNamesInKeys) {
  LoadResult result = load(lines({"[pool.\"my pool\"]", "retries = -1",
                                  "backends = [{ address = \"tcp://127.0.0.1:1\" }]"}) +
                           kValidTail);
  expectError(result, "pool.\"my pool\".retries", 2, "must be between 0 and 15");
}

}  // namespace
}  // namespace l4lb::config
