// The checks that look across entries: duplicate names and binds, pool references, address
// kinds, maglev table sizes. Syntax and per-value errors are in config_errors_test.cc.

#include <gtest/gtest.h>

#include <string>

#include "config/loader.h"
#include "config_test_util.h"

namespace l4lb::config {
namespace {

using testing::describeErrors;
using testing::expectError;
using testing::findError;
using testing::kValidTail;
using testing::lines;
using testing::load;

TEST(ConfigChecksTest, DuplicateListenerNames) {
  LoadResult result = load(kValidTail + lines({
                                            "[[listener]]",                  // 7
                                            "name = \"ok\"",                 // 8
                                            "bind = \"tcp://127.0.0.1:9\"",  // 9
                                            "pool = \"ok\"",                 // 10
                                        }));
  expectError(result, "listener[1].name", 8,
              "duplicate listener name \"ok\" (also listener[0].name)");
  EXPECT_EQ(result.errors.size(), 1U) << describeErrors(result);
}

TEST(ConfigChecksTest, DefaultListenerNameCanCollide) {
  LoadResult result = load(kValidTail + lines({
                                            "[[listener]]",                   // 7
                                            "name = \"listener2\"",           // 8
                                            "bind = \"tcp://127.0.0.1:9\"",   // 9
                                            "pool = \"ok\"",                  // 10
                                            "[[listener]]",                   // 11
                                            "bind = \"tcp://127.0.0.1:10\"",  // 12
                                            "pool = \"ok\"",                  // 13
                                        }));
  expectError(result, "listener[2]", 11, "duplicate listener name \"listener2\"");
}

TEST(ConfigChecksTest, ListenerPoolThatDoesNotExist) {
  LoadResult result = load(kValidTail + lines({
                                            "[[listener]]",                   // 7
                                            "name = \"b\"",                   // 8
                                            "bind = \"tcp://127.0.0.1:9\"",   // 9
                                            "pool = \"okk\"",                 // 10
                                            "[[listener]]",                   // 11
                                            "name = \"c\"",                   // 12
                                            "bind = \"tcp://127.0.0.1:10\"",  // 13
                                            "pool = \"elsewhere\"",           // 14
                                        }));
  expectError(result, "listener[1].pool", 10, "no pool named \"okk\" (did you mean \"ok\"?)");
  expectError(result, "listener[2].pool", 14, "no pool named \"elsewhere\" (pools: \"ok\")");
  EXPECT_EQ(result.errors.size(), 2U) << describeErrors(result);

  LoadResult no_pools =
      load(lines({"[[listener]]", "bind = \"tcp://127.0.0.1:1\"", "pool = \"x\""}));
  expectError(no_pools, "listener[0].pool", 3, "(no [pool.NAME] tables are defined)");
}

// Binds are compared as socket addresses, not as text: two spellings of one address collide,
// and an IPv4-mapped IPv6 address is a different socket from the IPv4 one.
TEST(ConfigChecksTest, DuplicateBindComparesResolvedAddresses) {
  LoadResult result = load(kValidTail + lines({
                                            "[[listener]]",                              // 7
                                            "name = \"b\"",                              // 8
                                            "bind = \"tcp://[::ffff:127.0.0.1]:7000\"",  // 9
                                            "pool = \"ok\"",                             // 10
                                            "[[listener]]",                              // 11
                                            "name = \"c\"",                              // 12
                                            "bind = \"tcp://[::1]:7000\"",               // 13
                                            "pool = \"ok\"",                             // 14
                                            "[[listener]]",                              // 15
                                            "name = \"d\"",                              // 16
                                            "bind = \"tcp://[0:0:0:0:0:0:0:1]:7000\"",   // 17
                                            "pool = \"ok\"",                             // 18
                                            "[[listener]]",                              // 19
                                            "name = \"e\"",                              // 20
                                            "bind = \"unix:///tmp/a.sock\"",             // 21
                                            "pool = \"ok\"",                             // 22
                                            "[[listener]]",                              // 23
                                            "name = \"f\"",                              // 24
                                            "bind = \"unix:///tmp/a.sock\"",             // 25
                                            "pool = \"ok\"",                             // 26
                                            "[[listener]]",                              // 27
                                            "name = \"g\"",                              // 28
                                            "bind = \"unix://@tmp/a.sock\"",             // 29
                                            "pool = \"ok\"",                             // 30
                                        }));
  EXPECT_EQ(findError(result, "listener[1].bind"), nullptr) << describeErrors(result);
  expectError(result, "listener[3].bind", 17,
              "\"tcp://[0:0:0:0:0:0:0:1]:7000\" is the same address as listener[2].bind "
              "(\"tcp://[::1]:7000\")");
  expectError(result, "listener[5].bind", 25,
              "\"unix:///tmp/a.sock\" is the same address as listener[4].bind");
  EXPECT_EQ(result.errors.size(), 2U) << describeErrors(result);
}

TEST(ConfigChecksTest, DuplicateBindSameTextAndSameBytes) {
  LoadResult result = load(kValidTail + lines({
                                            "[[listener]]",                     // 7
                                            "name = \"b\"",                     // 8
                                            "bind = \"tcp://127.0.0.1:7000\"",  // 9
                                            "pool = \"ok\"",                    // 10
                                        }));
  expectError(result, "listener[1].bind", 9,
              "\"tcp://127.0.0.1:7000\" is the same address as listener[0].bind "
              "(\"tcp://127.0.0.1:7000\")");
  EXPECT_EQ(result.errors.size(), 1U) << describeErrors(result);
}

TEST(ConfigChecksTest, AddressesThatDoNotParse) {
  LoadResult result = load(lines({
      "[[listener]]",                               // 1
      "bind = \"127.0.0.1:80\"",                    // 2
      "pool = \"p\"",                               // 3
      "[pool.p]",                                   // 4
      "backends = [",                               // 5
      "  { address = \"tcp://10.0.0.1:99999\" },",  // 6
      "  { address = \"\" },",                      // 7
      "]",
  }));
  expectError(result, "listener[0].bind", 2,
              "invalid address \"127.0.0.1:80\": expected scheme://");
  expectError(result, "pool.p.backends[0].address", 6, "port must be a number from 0 to 65535");
  expectError(result, "pool.p.backends[1].address", 7, "must not be empty");
  EXPECT_EQ(result.errors.size(), 3U) << describeErrors(result);
}

TEST(ConfigChecksTest, DatagramListenerWithDatagramBackends) {
  LoadResult result = load(lines({
      "[[listener]]",                                 // 1
      "bind = \"udp://127.0.0.1:53\"",                // 2
      "pool = \"p\"",                                 // 3
      "responses = 1",                                // 4
      "max_flows = 2",                                // 5
      "flow_idle_timeout = \"5s\"",                   // 6
      "[pool.p]",                                     // 7
      "backends = [",                                 // 8
      "  { address = \"unixgram:///run/x.sock\" },",  // 9
      "  { address = \"mq:///queue\", mq_max_messages = 5, mq_message_size = 512 },",
      "  { address = \"udp://[::1]:53\" },",
      "]",
  }));
  ASSERT_TRUE(result.ok()) << describeErrors(result);
  const auto& listener = result.config->listeners[0];
  EXPECT_TRUE(listener.isDatagram());
  EXPECT_EQ(listener.responses, 1U);
  EXPECT_EQ(listener.max_flows, 2U);
  EXPECT_EQ(listener.flow_idle_timeout.count(), 5000);
  EXPECT_EQ(result.config->pools[0].backends[1].mq.max_messages, 5U);
  EXPECT_EQ(result.config->pools[0].backends[1].mq.message_size, 512U);
}

TEST(ConfigChecksTest, StreamAndDatagramDoNotMix) {
  LoadResult result = load(lines({
      "[[listener]]",                                       // 1
      "bind = \"udp://0.0.0.0:53\"",                        // 2
      "pool = \"web\"",                                     // 3
      "[[listener]]",                                       // 4
      "bind = \"tcp://0.0.0.0:80\"",                        // 5
      "pool = \"dns\"",                                     // 6
      "[pool.web]",                                         // 7
      "backends = [{ address = \"tcp://127.0.0.1:80\" }]",  // 8
      "[pool.dns]",                                         // 9
      "backends = [",                                       // 10
      "  { address = \"udp://127.0.0.1:53\" },",            // 11
      "  { address = \"tcp://127.0.0.1:53\" },",            // 12
      "]",
  }));
  expectError(result, "listener[0].pool", 3,
              "binds a datagram address (\"udp://0.0.0.0:53\") but pool \"web\" has stream "
              "backends");
  expectError(result, "listener[1].pool", 6, "a stream listener needs tcp:// or unix:// backends");
  expectError(result, "pool.dns.backends[1].address", 12,
              "pool \"dns\" mixes stream and datagram backends");
  EXPECT_EQ(result.errors.size(), 3U) << describeErrors(result);
}

TEST(ConfigChecksTest, KeysOfOtherKindsAreReportedWhereWritten) {
  LoadResult result = load(lines({
      "[[listener]]",                                                            // 1
      "bind = \"udp://0.0.0.0:53\"",                                             // 2
      "pool = \"dns\"",                                                          // 3
      "idle_timeout = \"1s\"",                                                   // 4
      "mq_message_size = 100",                                                   // 5
      "[[listener]]",                                                            // 6
      "bind = \"tcp://0.0.0.0:80\"",                                             // 7
      "pool = \"web\"",                                                          // 8
      "responses = 1",                                                           // 9
      "[pool.web]",                                                              // 10
      "backends = [{ address = \"tcp://127.0.0.1:80\" }]",                       // 11
      "[pool.dns]",                                                              // 12
      "backends = [{ address = \"udp://127.0.0.1:53\", mq_max_messages = 3 }]",  // 13
  }));
  expectError(result, "listener[0].idle_timeout", 4, "datagram listeners have flow_idle_timeout");
  expectError(result, "listener[0].mq_message_size", 5, "only applies to message queues");
  expectError(result, "listener[1].responses", 9, "only applies to datagram listeners");
  expectError(result, "pool.dns.backends[0].mq_max_messages", 13, "only applies to message queues");
  EXPECT_EQ(result.errors.size(), 4U) << describeErrors(result);
}

TEST(ConfigChecksTest, DuplicateBackendNamesWithinAPool) {
  LoadResult result = load(lines({
                               "[pool.p]",                                              // 1
                               "backends = [",                                          // 2
                               "  { address = \"tcp://127.0.0.1:1\", name = \"a\" },",  // 3
                               "  { address = \"tcp://127.0.0.1:2\", name = \"a\" },",  // 4
                               "  { address = \"tcp://127.0.0.1:3\" },",                // 5
                               "  { address = \"tcp://127.0.0.1:3\" },",                // 6
                               "  { address = \"tcp://127.0.0.1:3\", name = \"c\" },",  // 7
                               "]",
                               "[pool.q]",
                               "backends = [{ address = \"tcp://127.0.0.1:1\", name = \"a\" }]",
                           }) +
                           kValidTail);
  expectError(result, "pool.p.backends[1].name", 4,
              "duplicate backend name \"a\" in pool \"p\" (also pool.p.backends[0].name)");
  expectError(result, "pool.p.backends[3].address", 6,
              "named by its address, so give one of them a name");
  EXPECT_EQ(result.errors.size(), 2U) << describeErrors(result);
}

TEST(ConfigChecksTest, MaglevTableSize) {
  LoadResult result = load(lines({
                               "[pool.notprime]",            // 1
                               "balance = \"maglev\"",       // 2
                               "maglev_table_size = 65536",  // 3
                               "backends = [{ address = \"tcp://127.0.0.1:1\" }]",
                               "[pool.small]",           // 5
                               "balance = \"maglev\"",   // 6
                               "maglev_table_size = 2",  // 7
                               "backends = [",
                               "  { address = \"tcp://127.0.0.1:1\" },",
                               "  { address = \"tcp://127.0.0.1:2\" },",
                               "  { address = \"tcp://127.0.0.1:3\" },",
                               "]",
                               "[pool.notmaglev]",          // 13
                               "hash_key = \"client-ip\"",  // 14
                               "maglev_table_size = 251",   // 15
                               "backends = [{ address = \"tcp://127.0.0.1:1\" }]",
                               "[pool.huge]",                    // 17
                               "balance = \"maglev\"",           // 18
                               "maglev_table_size = 100000000",  // 19
                               "backends = [{ address = \"tcp://127.0.0.1:1\" }]",
                           }) +
                           kValidTail);
  expectError(result, "pool.notprime.maglev_table_size", 3,
              "must be a prime number; 65536 is not (the next prime is 65537)");
  expectError(result, "pool.small.maglev_table_size", 7,
              "must be at least the number of backends (3)");
  expectError(result, "pool.notmaglev.hash_key", 14, "only applies to balance = \"maglev\"");
  expectError(result, "pool.notmaglev.maglev_table_size", 15,
              "only applies to balance = \"maglev\"");
  expectError(result, "pool.huge.maglev_table_size", 19, "must be between 1 and 16777216");
  EXPECT_EQ(result.errors.size(), 5U) << describeErrors(result);
}

}  // namespace
}  // namespace l4lb::config
