#include "proto/check_reply.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "verdicts.h"

namespace l4lb::proto {
namespace {

using namespace std::string_literals;

// Every proper prefix of a reply that decides must ask for more or decide the same way: a
// parser fed a reply split across reads must never decide early the other way.
template <typename Parse>
void expectPrefixesConsistent(std::string_view reply, Parse parse) {
  const CheckVerdict full = parse(reply);
  ASSERT_FALSE(needsMore(full));
  for (std::size_t n = 0; n < reply.size(); ++n) {
    const CheckVerdict part = parse(reply.substr(0, n));
    EXPECT_TRUE(needsMore(part) || part.status == full.status) << "prefix of " << n << " bytes";
  }
}

TEST(CheckStringTest, Escapes) {
  EXPECT_EQ(unescapeCheckString("PING\\r\\n").valueOr("<error>"), "PING\r\n");
  EXPECT_EQ(unescapeCheckString("\\x00\\xfFa\\\\").valueOr("<error>"),
            "\0\xff"
            "a\\"s);
  auto why = [](std::string_view text) {
    auto value = unescapeCheckString(text);
    EXPECT_FALSE(value) << text;
    return value ? std::string() : value.error().message();
  };
  EXPECT_NE(why("bad\\x4").find("two hex digits"), std::string::npos);
  EXPECT_NE(why("bad\\q").find("unknown escape"), std::string::npos);
  EXPECT_NE(why("trailing\\").find("lone backslash"), std::string::npos);
}

TEST(SendExpectTest, PrefixMatch) {
  EXPECT_TRUE(isUp(parseExpectReply("+PONG\r\nmore", "+PONG")));
  EXPECT_TRUE(needsMore(parseExpectReply("+PO", "+PONG")));
  EXPECT_TRUE(isDown(parseExpectReply("-ERR", "+PONG")));
  EXPECT_TRUE(isDown(parseExpectReply("+PX", "+PONG")));
}

TEST(RedisReplyTest, PongIsUp) {
  EXPECT_EQ(redisRequest(""), "*1\r\n$4\r\nPING\r\n");
  EXPECT_TRUE(isUp(parseRedisReply("+PONG\r\n", false)));
  expectPrefixesConsistent("+PONG\r\n",
                           [](std::string_view r) { return parseRedisReply(r, false); });
}

TEST(RedisReplyTest, ErrorsAreDown) {
  const std::string loading = "-LOADING Redis is loading the dataset in memory\r\n";
  const CheckVerdict v = parseRedisReply(loading, false);
  EXPECT_TRUE(isDown(v));
  EXPECT_NE(v.reason.find("LOADING"), std::string::npos);
  EXPECT_TRUE(isDown(parseRedisReply("-MASTERDOWN Link with MASTER is down\r\n", false)));
  EXPECT_TRUE(isDown(parseRedisReply("-NOAUTH Authentication required.\r\n", false)));
  EXPECT_TRUE(isDown(parseRedisReply("$4\r\nPONG\r\n", false)));
  EXPECT_TRUE(isDown(parseRedisReply("HTTP/1.1 400 Bad Request\r\n", false)));
}

TEST(RedisReplyTest, Truncated) {
  EXPECT_TRUE(needsMore(parseRedisReply("", false)));
  EXPECT_TRUE(needsMore(parseRedisReply("+PONG\r", false)));
  EXPECT_TRUE(needsMore(parseRedisReply("-LOADING", false)));
}

TEST(RedisReplyTest, AuthThenPing) {
  EXPECT_EQ(redisRequest("s3cret"), "*2\r\n$4\r\nAUTH\r\n$6\r\ns3cret\r\n*1\r\n$4\r\nPING\r\n");
  EXPECT_TRUE(isUp(parseRedisReply("+OK\r\n+PONG\r\n", true)));
  EXPECT_TRUE(needsMore(parseRedisReply("+OK\r\n", true)));
  const CheckVerdict wrong = parseRedisReply("-WRONGPASS invalid username-password pair\r\n", true);
  EXPECT_TRUE(isDown(wrong));
  EXPECT_EQ(wrong.reason.find("s3cret"), std::string::npos);
  EXPECT_TRUE(isDown(parseRedisReply("-ERR unknown command\r\n", true)));
  EXPECT_TRUE(needsMore(parseRedisReply("-ERR", true)));
  expectPrefixesConsistent("+OK\r\n+PONG\r\n",
                           [](std::string_view r) { return parseRedisReply(r, true); });
}

// Recorded ROLE replies of redis 7.0.
const std::string kRoleMaster = "+PONG\r\n*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n"s;
const std::string kRoleSlave =
    "+PONG\r\n*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n:14\r\n"s;

TEST(RedisRoleTest, PrimaryAndReplica) {
  EXPECT_EQ(redisRequest("", Role::kPrimary), "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nROLE\r\n");
  EXPECT_TRUE(isUp(parseRedisReply(kRoleMaster, false, Role::kPrimary)));
  EXPECT_TRUE(isDown(parseRedisReply(kRoleMaster, false, Role::kReplica)));
  EXPECT_TRUE(isUp(parseRedisReply(kRoleSlave, false, Role::kReplica)));
  const CheckVerdict v = parseRedisReply(kRoleSlave, false, Role::kPrimary);
  EXPECT_TRUE(isDown(v));
  EXPECT_NE(v.reason.find("role slave"), std::string::npos) << v.reason;
  for (Role role : {Role::kPrimary, Role::kReplica}) {
    expectPrefixesConsistent(
        kRoleMaster, [role](std::string_view r) { return parseRedisReply(r, false, role); });
    expectPrefixesConsistent(
        kRoleSlave, [role](std::string_view r) { return parseRedisReply(r, false, role); });
  }
  EXPECT_TRUE(needsMore(parseRedisReply("+PONG\r\n", false, Role::kPrimary)));
  EXPECT_TRUE(
      isDown(parseRedisReply("+PONG\r\n-ERR unknown command 'ROLE'\r\n", false, Role::kPrimary)));
  EXPECT_TRUE(isUp(parseRedisReply("+OK\r\n" + kRoleMaster, true, Role::kPrimary)));
}

TEST(MemcachedReplyTest, Version) {
  EXPECT_EQ(memcachedRequest(), "version\r\n");
  EXPECT_TRUE(isUp(parseMemcachedReply("VERSION 1.6.18\r\n")));
  EXPECT_TRUE(needsMore(parseMemcachedReply("VERSION 1.6")));
  EXPECT_TRUE(needsMore(parseMemcachedReply("VER")));
  EXPECT_TRUE(isDown(parseMemcachedReply("ERROR\r\n")));
  EXPECT_TRUE(isDown(parseMemcachedReply("SERVER_ERROR out of memory\r\n")));
  expectPrefixesConsistent("VERSION 1.6.18\r\n", parseMemcachedReply);
}

TEST(HttpReplyTest, StatusRange) {
  EXPECT_EQ(httpRequest("/health", "example:80"),
            "GET /health HTTP/1.0\r\nHost: example:80\r\nUser-Agent: l4lb-health\r\n"
            "Connection: close\r\n\r\n");
  const std::string ok = "HTTP/1.1 200 OK\r\nServer: nginx\r\n\r\n";
  EXPECT_TRUE(isUp(parseHttpReply(ok, 200, 399)));
  expectPrefixesConsistent(ok, [](std::string_view r) { return parseHttpReply(r, 200, 399); });
  EXPECT_TRUE(isUp(parseHttpReply("HTTP/1.0 302 Found\r\n", 200, 399)));
  const CheckVerdict not_found = parseHttpReply("HTTP/1.1 404 Not Found\r\n\r\n", 200, 399);
  EXPECT_TRUE(isDown(not_found));
  EXPECT_NE(not_found.reason.find("404"), std::string::npos);
  EXPECT_TRUE(isDown(parseHttpReply("HTTP/1.1 503 Service Unavailable\r\n", 200, 399)));
  EXPECT_TRUE(isUp(parseHttpReply("HTTP/1.1 503 x\r\n", 503, 503)));
}

TEST(HttpReplyTest, NotHttpAndTruncated) {
  EXPECT_TRUE(isDown(parseHttpReply("+PONG\r\n", 200, 399)));
  EXPECT_TRUE(isDown(parseHttpReply("HTTP/1.1 2x0 OK\r\n", 200, 399)));
  EXPECT_TRUE(needsMore(parseHttpReply("HTTP/1.1 20", 200, 399)));
  EXPECT_TRUE(needsMore(parseHttpReply("", 200, 399)));
}

}  // namespace
}  // namespace l4lb::proto
