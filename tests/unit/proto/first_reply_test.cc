#include "proto/first_reply.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

namespace l4lb::proto {
namespace {

using namespace std::string_literals;

FirstReply classify(GreetingProtocol protocol, std::string_view bytes) {
  return classifyFirstReply(protocol,
                            {reinterpret_cast<const std::uint8_t*>(bytes.data()), bytes.size()});
}

TEST(FirstReplyTest, MysqlGreetingIsAnAnswer) {
  // A protocol 10 handshake, cut after the version string: enough to judge.
  const std::string greeting = "\x5b\x00\x00\x00\x0a"s + "10.11.6-MariaDB-0+deb12u1\0"s;
  EXPECT_EQ(classify(GreetingProtocol::kMysql, greeting), FirstReply::kAnswered);
}

TEST(FirstReplyTest, MysqlErrorPacketInPlaceOfTheGreetingIsARefusal) {
  // ER_CON_COUNT_ERROR (1040) as mariadbd sends it before the handshake.
  const std::string too_many = "\x17\x00\x00\x00\xff\x10\x04"s + "Too many connections"s;
  EXPECT_EQ(classify(GreetingProtocol::kMysql, too_many), FirstReply::kRefused);
  // ER_SERVER_SHUTDOWN (1053).
  const std::string shutdown = "\x1f\x00\x00\x00\xff\x1d\x04"s + "Server shutdown in progress"s;
  EXPECT_EQ(classify(GreetingProtocol::kMysql, shutdown), FirstReply::kRefused);
}

TEST(FirstReplyTest, MysqlTruncatedOrOutOfSequenceCountsAsAnswered) {
  EXPECT_EQ(classify(GreetingProtocol::kMysql, "\x17\x00\x00\x00"s), FirstReply::kAnswered);
  EXPECT_EQ(classify(GreetingProtocol::kMysql, ""), FirstReply::kAnswered);
  // 0xff in a packet other than the first is some later answer, not a refusal.
  EXPECT_EQ(classify(GreetingProtocol::kMysql, "\x07\x00\x00\x02\xff\x10\x04"s),
            FirstReply::kAnswered);
}

TEST(FirstReplyTest, PgsqlErrorResponseBeforeLoginIsARefusal) {
  const std::string body = "SFATAL\0VFATAL\0C57P03\0Mthe database system is shutting down\0\0"s;
  std::string error = "E"s + "\x00\x00\x00"s + static_cast<char>(body.size() + 4) + body;
  EXPECT_EQ(classify(GreetingProtocol::kPgsql, error), FirstReply::kRefused);
}

TEST(FirstReplyTest, PgsqlAuthenticationRequestIsAnAnswer) {
  // AuthenticationOk followed by ParameterStatus, as in one read under trust.
  const std::string ok = "R\x00\x00\x00\x08\x00\x00\x00\x00S\x00\x00\x00\x16"s;
  EXPECT_EQ(classify(GreetingProtocol::kPgsql, ok), FirstReply::kAnswered);
  // AuthenticationSASL.
  EXPECT_EQ(classify(GreetingProtocol::kPgsql, "R\x00\x00\x00\x17\x00\x00\x00\x0a"s),
            FirstReply::kAnswered);
}

TEST(FirstReplyTest, PgsqlSslDeclinedIsNegotiationNotAnswer) {
  EXPECT_EQ(classify(GreetingProtocol::kPgsql, "N"), FirstReply::kNegotiation);
  // 'S' accepts TLS: from here the bytes are encrypted and nothing more can be judged.
  EXPECT_EQ(classify(GreetingProtocol::kPgsql, "S"), FirstReply::kAnswered);
  EXPECT_EQ(classify(GreetingProtocol::kPgsql, ""), FirstReply::kAnswered);
}

TEST(FirstReplyTest, RedisLoadingAndMasterdownAreRefusals) {
  EXPECT_EQ(
      classify(GreetingProtocol::kRedis, "-LOADING Redis is loading the dataset in memory\r\n"),
      FirstReply::kRefused);
  EXPECT_EQ(classify(GreetingProtocol::kRedis,
                     "-MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set "
                     "to 'no'.\r\n"),
            FirstReply::kRefused);
}

TEST(FirstReplyTest, RedisOtherRepliesAreAnswers) {
  EXPECT_EQ(classify(GreetingProtocol::kRedis, "+PONG\r\n"), FirstReply::kAnswered);
  EXPECT_EQ(classify(GreetingProtocol::kRedis, "-ERR unknown command 'FOO'\r\n"),
            FirstReply::kAnswered);
  EXPECT_EQ(classify(GreetingProtocol::kRedis, "-NOAUTH Authentication required.\r\n"),
            FirstReply::kAnswered);
  // Too short to tell: a real server sends the whole error in one write.
  EXPECT_EQ(classify(GreetingProtocol::kRedis, "-LOAD"), FirstReply::kAnswered);
}

TEST(FirstReplyTest, NoProtocolNeverRefuses) {
  EXPECT_EQ(classify(GreetingProtocol::kNone, "-LOADING"), FirstReply::kAnswered);
  EXPECT_EQ(classify(GreetingProtocol::kNone, "N"), FirstReply::kAnswered);
}

}  // namespace
}  // namespace l4lb::proto
