// etcd's JSON gateway as l4lb reads it (issue 16): bytes recorded from etcd 3.4.23.

#include "discover/etcd_messages.h"

#include <gtest/gtest.h>

#include "proto/base64.h"

namespace l4lb::discover {
namespace {

TEST(EtcdRangeEndTest, PrefixEnds) {
  EXPECT_EQ(prefixRangeEnd("/services/redis/"), "/services/redis0");
  EXPECT_EQ(prefixRangeEnd(std::string("a\xff", 2)), "b");
  EXPECT_EQ(prefixRangeEnd(""), std::string(1, '\0'));
}

TEST(EtcdRangeReplyTest, RecordedReply) {
  auto reply = parseRangeReply(
      R"({"header":{"cluster_id":"15118495548433857066","member_id":"13668033151171901709",)"
      R"("revision":"2","raft_term":"2"},"kvs":[{"key":"L3NlcnZpY2VzL3JlZGlzL2E=",)"
      R"("create_revision":"2","mod_revision":"2","version":"1",)"
      R"("value":"dGNwOi8vMTI3LjAuMC4xOjYzNzk="}],"count":"1"})");
  ASSERT_TRUE(reply) << reply.error().message();
  EXPECT_EQ(reply->revision, 2);
  ASSERT_EQ(reply->kvs.size(), 1U);
  EXPECT_EQ(reply->kvs[0].key, "/services/redis/a");
  EXPECT_EQ(reply->kvs[0].value, "tcp://127.0.0.1:6379");
}

// A key under the prefix may hold more than SCRAM's 64 KiB cap of base64 (etcd takes 1.5 MiB):
// such a key is read, not taken for garbage that fails the whole list.
TEST(EtcdRangeReplyTest, AValueLongerThanProtosDefaultCapIsRead) {
  const std::string big(100 * 1024, 'v');
  const std::string reply_text = R"({"header":{"revision":"5"},"kvs":[{"key":")" +
                                 proto::base64Encode("/services/redis/big") + R"(","value":")" +
                                 proto::base64Encode(big) + R"("}]})";
  auto reply = parseRangeReply(reply_text);
  ASSERT_TRUE(reply) << reply.error().message();
  ASSERT_EQ(reply->kvs.size(), 1U);
  EXPECT_EQ(reply->kvs[0].value, big);
}

TEST(EtcdRangeReplyTest, NoKeysIsAnEmptyList) {
  auto reply = parseRangeReply(R"({"header":{"revision":"7"}})");
  ASSERT_TRUE(reply);
  EXPECT_TRUE(reply->kvs.empty());
}

TEST(EtcdRangeReplyTest, ErrorsSayWhy) {
  EXPECT_FALSE(parseRangeReply("not json"));
  EXPECT_FALSE(parseRangeReply(R"({"kvs":[]})"));  // no revision
  auto gateway = parseRangeReply(R"({"error":"etcdserver: no leader","code":14})");
  ASSERT_FALSE(gateway);
  EXPECT_NE(gateway.error().message().find("no leader"), std::string::npos);
}

TEST(EtcdWatchMessageTest, PutAndDelete) {
  auto put = parseWatchMessage(
      R"({"result":{"header":{"revision":"3"},"events":[{"kv":{"key":"L3NlcnZpY2VzL3JlZGlzL2I=",)"
      R"("value":"eyJhZGRyZXNzIjoidGNwOi8vMTI3LjAuMC4xOjYzODAiLCJ3ZWlnaHQiOjN9"}}]}})");
  ASSERT_TRUE(put) << put.error().message();
  EXPECT_EQ(put->revision, 3);
  ASSERT_EQ(put->events.size(), 1U);
  EXPECT_FALSE(put->events[0].deleted);  // a PUT has no "type"
  EXPECT_EQ(put->events[0].kv.value, R"({"address":"tcp://127.0.0.1:6380","weight":3})");
  auto del = parseWatchMessage(R"({"result":{"header":{"revision":"4"},"events":[{"type":"DELETE",)"
                               R"("kv":{"key":"L3NlcnZpY2VzL3JlZGlzL2E=","mod_revision":"4"}}]}})");
  ASSERT_TRUE(del);
  EXPECT_TRUE(del->events[0].deleted);
  EXPECT_EQ(del->events[0].kv.key, "/services/redis/a");
}

TEST(EtcdWatchMessageTest, CreatedAndCompacted) {
  auto created = parseWatchMessage(R"({"result":{"header":{"revision":"2"},"created":true}})");
  ASSERT_TRUE(created);
  EXPECT_TRUE(created->created);
  EXPECT_TRUE(created->events.empty());
  auto compacted = parseWatchMessage(
      R"({"result":{"header":{"revision":"9"},"canceled":true,"compact_revision":"7"}})");
  ASSERT_TRUE(compacted);
  EXPECT_EQ(compacted->compact_revision, 7);
  EXPECT_TRUE(compacted->canceled);
}

TEST(EtcdValueTest, UrlOrObject) {
  auto url = parseEtcdValue("tcp://10.0.0.5:6379", false, net::parseEndpoint);
  ASSERT_TRUE(url) << url.error().message();
  EXPECT_EQ(url->address.url, "tcp://10.0.0.5:6379");
  EXPECT_EQ(url->weight, 1U);
  EXPECT_EQ(url->nameOr(), "tcp://10.0.0.5:6379");
  auto object = parseEtcdValue(R"({"address":"tcp://10.0.0.6:6379","weight":5,"name":"r6"})", false,
                               net::parseEndpoint);
  ASSERT_TRUE(object) << object.error().message();
  EXPECT_EQ(object->weight, 5U);
  EXPECT_EQ(object->nameOr(), "r6");
}

TEST(EtcdValueTest, WrongValuesSayWhy) {
  EXPECT_FALSE(parseEtcdValue("udp://10.0.0.5:53", false, net::parseEndpoint));  // not tcp://
  EXPECT_FALSE(parseEtcdValue("tcp://10.0.0.5:53", true, net::parseEndpoint));   // not udp://
  EXPECT_FALSE(
      parseEtcdValue(R"({"address":"tcp://10.0.0.6:1","weight":0})", false, net::parseEndpoint));
  EXPECT_FALSE(parseEtcdValue(R"({"weight":2})", false, net::parseEndpoint));
  EXPECT_FALSE(parseEtcdValue("{", false, net::parseEndpoint));
  EXPECT_FALSE(parseEtcdValue("tcp://10.0.0.5", false, net::parseEndpoint));  // no port
}

}  // namespace
}  // namespace l4lb::discover
