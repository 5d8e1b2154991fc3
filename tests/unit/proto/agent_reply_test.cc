#include "proto/agent_reply.h"

#include <gtest/gtest.h>

#include <string>

namespace l4lb::proto {
namespace {

AgentReport parsed(std::string_view line) {
  auto report = parseAgentReply(line);
  EXPECT_TRUE(report) << line << ": " << (report ? "" : report.error().message());
  return report ? std::move(report).value() : AgentReport{};
}

TEST(AgentLineTest, UpToTheLineEndOrTheClose) {
  EXPECT_EQ(agentLine("75%\n", false), "75%");
  EXPECT_EQ(agentLine("75%\r\nrest", false), "75%");
  EXPECT_EQ(agentLine("75%", false), std::nullopt);
  EXPECT_EQ(agentLine("75%", true), "75%");
  EXPECT_EQ(agentLine("", true), "");
}

TEST(AgentReplyTest, Weight) {
  EXPECT_EQ(parsed("75%").weight_percent, 75U);
  EXPECT_EQ(parsed("0%").weight_percent, 0U);
  EXPECT_EQ(parsed("1000%").weight_percent, 1000U);
  EXPECT_FALSE(parsed("75%").admin);
  EXPECT_FALSE(parsed("75%").operational);
}

TEST(AgentReplyTest, AdminWords) {
  EXPECT_EQ(parsed("ready").admin, AgentAdmin::kReady);
  EXPECT_EQ(parsed("drain").admin, AgentAdmin::kDrain);
  EXPECT_EQ(parsed("MAINT").admin, AgentAdmin::kMaint);
  EXPECT_FALSE(parsed("drain").weight_percent);
}

TEST(AgentReplyTest, OperationalWordsAndDescription) {
  EXPECT_EQ(parsed("up").operational, AgentOperational::kUp);
  EXPECT_EQ(parsed("down").operational, AgentOperational::kDown);
  EXPECT_EQ(parsed("Down").operational, AgentOperational::kDown);
  EXPECT_EQ(parsed("FAIL").operational, AgentOperational::kFail);
  EXPECT_EQ(parsed("stopped").operational, AgentOperational::kStopped);
  EXPECT_EQ(describeAgentReport(parsed("fail#no disk")), "fail, \"no disk\"");
  AgentReport report = parsed("down#disk full, read-only");
  EXPECT_EQ(report.operational, AgentOperational::kDown);
  EXPECT_EQ(report.description, "disk full, read-only");
  EXPECT_EQ(parsed("stopped # for upgrade ").description, "for upgrade");
}

// HAProxy's examples: words in any order, separated by spaces, tabs or commas.
TEST(AgentReplyTest, SeveralWordsInAnyOrder) {
  AgentReport report = parsed("ready,75%\tup");
  EXPECT_EQ(report.admin, AgentAdmin::kReady);
  EXPECT_EQ(report.weight_percent, 75U);
  EXPECT_EQ(report.operational, AgentOperational::kUp);
  AgentReport drain = parsed("  50% drain  ");
  EXPECT_EQ(drain.admin, AgentAdmin::kDrain);
  EXPECT_EQ(drain.weight_percent, 50U);
  // A later word of the same kind wins.
  EXPECT_EQ(parsed("drain ready").admin, AgentAdmin::kReady);
}

TEST(AgentReplyTest, UnknownWordsAreIgnoredAndNamed) {
  AgentReport report = parsed("maxconn:30 60% bogus");
  EXPECT_EQ(report.weight_percent, 60U);
  ASSERT_EQ(report.ignored.size(), 2U);
  EXPECT_EQ(report.ignored[0], "maxconn:30");
  EXPECT_EQ(report.ignored[1], "bogus");
  EXPECT_EQ(describeAgentReport(report), "weight 60%, ignored \"maxconn:30\", ignored \"bogus\"");
  EXPECT_TRUE(parsed("hello").empty());
}

TEST(AgentReplyTest, Refused) {
  EXPECT_FALSE(parseAgentReply(""));
  EXPECT_FALSE(parseAgentReply(" ,\t"));
  EXPECT_FALSE(parseAgentReply("%"));
  EXPECT_FALSE(parseAgentReply("x%"));
  EXPECT_FALSE(parseAgentReply("-5%"));
  EXPECT_FALSE(parseAgentReply("1001%"));
  EXPECT_FALSE(parseAgentReply("99999999999%"));
  auto bad = parseAgentReply("ready 7.5%");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message().find("invalid weight \"7.5%\""), std::string::npos);
}

TEST(AgentReplyTest, Described) {
  EXPECT_EQ(describeAgentReport(parsed("75% drain")), "weight 75%, drain");
  EXPECT_EQ(describeAgentReport(parsed("down#gone")), "down, \"gone\"");
}

}  // namespace
}  // namespace l4lb::proto
