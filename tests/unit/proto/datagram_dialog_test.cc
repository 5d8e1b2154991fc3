#include "proto/datagram_dialog.h"

#include <gtest/gtest.h>

#include <string>

#include "hex.h"
#include "proto/dns_check.h"
#include "verdicts.h"

namespace l4lb::proto {
namespace {

TEST(UdpDialogTest, SendsThePayloadAsWritten) {
  EXPECT_EQ(makeUdpDialog("ping\n", std::nullopt)->request(), "ping\n");
  // The default: an empty datagram, which a syslog or statsd server ignores.
  EXPECT_EQ(makeUdpDialog("", std::nullopt)->request(), "");
  EXPECT_EQ(makeUdpDialog(std::string("\0\x01", 2), std::nullopt)->request().size(), 2U);
}

// Without expect (a backend that never answers): only a refusal, which the probe reports, is
// down; silence until the timeout, or any reply, is up.
TEST(UdpDialogTest, WithoutExpectSilenceIsUp) {
  auto dialog = makeUdpDialog("", std::nullopt);
  CheckVerdict silence = dialog->onSilence(300);
  EXPECT_TRUE(isUp(silence));
  EXPECT_EQ(silence.reason, "no refusal within 300 ms");
  EXPECT_TRUE(isUp(dialog->onReply("anything")));
  EXPECT_TRUE(isUp(dialog->onReply("")));
}

TEST(UdpDialogTest, WithExpectTheReplyMustStartWithIt) {
  auto dialog = makeUdpDialog("PING", std::string("PONG"));
  EXPECT_TRUE(isUp(dialog->onReply("PONG")));
  EXPECT_TRUE(isUp(dialog->onReply("PONG and more")));
  CheckVerdict wrong = dialog->onReply("NOPE\r\n");
  EXPECT_TRUE(isDown(wrong));
  EXPECT_EQ(wrong.reason, "unexpected reply \"NOPE\\r\\n\"");
  // A datagram is whole: a reply that is a prefix of expect is not completed by another.
  CheckVerdict short_reply = dialog->onReply("PO");
  EXPECT_TRUE(isDown(short_reply));
  EXPECT_EQ(short_reply.reason, "reply \"PO\" is shorter than expect");
  CheckVerdict silence = dialog->onSilence(1000);
  EXPECT_TRUE(isDown(silence));
  EXPECT_EQ(silence.reason, "no reply within 1000 ms");
}

TEST(UdpDialogTest, EmptyExpectNeedsAReplyButAnyWillDo) {
  auto dialog = makeUdpDialog("x", std::string());
  EXPECT_TRUE(isUp(dialog->onReply("")));
  EXPECT_TRUE(isDown(dialog->onSilence(10)));
}

TEST(UdpDialogTest, BinaryBytesAreQuotedPrintably) {
  auto dialog = makeUdpDialog("x", std::string("\x01\x02", 2));
  CheckVerdict wrong = dialog->onReply(std::string("\xff\x00", 2));
  EXPECT_TRUE(isDown(wrong));
  EXPECT_EQ(wrong.reason, "unexpected reply \"\\xff\\x00\"");
}

TEST(DnsDialogTest, QueryAndVerdicts) {
  auto wire = encodeDnsName("a.test");
  ASSERT_TRUE(wire);
  auto dialog = makeDnsDialog(0xabcd, wire.value(), 1);
  EXPECT_EQ(dialog->request(), dnsQuery(0xabcd, wire.value(), 1));
  // Recorded from unbound 1.17 (local-data "a.test. IN A 10.0.0.1").
  const std::string answer =
      fromHex("abcd85800001000100000000016104746573740000010001c00c0001000100000e1000040a000001");
  EXPECT_TRUE(isUp(dialog->onReply(answer)));
  EXPECT_TRUE(isDown(dialog->onReply("garbage")));
  CheckVerdict silence = dialog->onSilence(300);
  EXPECT_TRUE(isDown(silence));
  EXPECT_EQ(silence.reason, "timed out after 300 ms waiting for a reply");
}

}  // namespace
}  // namespace l4lb::proto
