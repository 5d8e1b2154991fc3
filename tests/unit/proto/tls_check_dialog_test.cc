#include "proto/tls_check_dialog.h"

#include <gtest/gtest.h>

#include <string>
#include <string_view>

#include "hex.h"
#include "verdicts.h"

namespace l4lb::proto {
namespace {

// Recorded from `openssl s_server` (OpenSSL 3.0) answering tlsClientHello("backend.test", 12345):
// the first record of each reply.
const std::string kTls13ServerHello = fromHex(
    "160303007a020000760303894f7640db777200158ca82bc1b9a7c0d86ccf7f5e8c2086bce5862c9e37763f2017b9"
    "3a583940d37acffe53ceb5ea15de851d574240a9432f16980b5c281b5761130100002e002b000203040033002400"
    "1d0020d4ecfb0bcf7372a8230db4d97c1b315f31fcbf1ad7a508cc9e6a5fef0399a535");
// s_server -tls1_2
const std::string kTls12ServerHello = fromHex(
    "16030300590200005503038e7fcc1efea58682f4c17beb5daacd54a62d2b7de710715d9a44a32ae1ee1ed3208055"
    "9de317c5d62b9eabdaf615551945d837f587c2e075433d6d4c54c0c87b23c02b00000dff01000100000b00040300"
    "0102");
// s_server -groups P-384: our x25519 key share is not wanted.
const std::string kHelloRetryRequest = fromHex(
    "1603030058020000540303cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c2017b9"
    "3a583940d37acffe53ceb5ea15de851d574240a9432f16980b5c281b5761130100000c002b0002030400330002001"
    "8");
// s_server -servername good.test -servername_fatal, asked for bad.test.
const std::string kUnrecognizedName = fromHex("15030300020270");

void expectPrefixesConsistent(std::string_view reply) {
  const CheckVerdict full = parseTlsServerHello(reply);
  ASSERT_FALSE(needsMore(full));
  for (std::size_t n = 0; n < reply.size(); ++n) {
    const CheckVerdict part = parseTlsServerHello(reply.substr(0, n));
    EXPECT_TRUE(needsMore(part) || part.status == full.status) << "prefix of " << n << " bytes";
  }
}

TEST(TlsClientHelloTest, Layout) {
  const std::string hello = tlsClientHello("backend.test", 1);
  ASSERT_GT(hello.size(), 9U);
  EXPECT_EQ(hello.substr(0, 3), std::string("\x16\x03\x01", 3));  // handshake, record 0x0301
  const std::size_t record =
      (static_cast<std::uint8_t>(hello[3]) << 8) | static_cast<std::uint8_t>(hello[4]);
  EXPECT_EQ(record + 5, hello.size());
  EXPECT_EQ(hello[5], '\x01');                                // ClientHello
  EXPECT_EQ(hello.substr(9, 2), std::string("\x03\x03", 2));  // legacy_version
  EXPECT_EQ(hello[9 + 2 + 32], '\x20');                       // a 32-byte session id
  EXPECT_NE(hello.find("backend.test"), std::string::npos);
  // supported_versions: 1.3, then 1.2.
  EXPECT_NE(hello.find(std::string("\x00\x2b\x00\x05\x04\x03\x04\x03\x03", 9)), std::string::npos);
  // key_share: one x25519 share of 32 bytes.
  EXPECT_NE(hello.find(std::string("\x00\x33\x00\x26\x00\x24\x00\x1d\x00\x20", 10)),
            std::string::npos);
}

TEST(TlsClientHelloTest, NoServerNameWithoutSni) {
  const std::string with = tlsClientHello("a.test", 7);
  const std::string without = tlsClientHello("", 7);
  EXPECT_EQ(with.size(), without.size() + 4 + 2 + 3 + 6);
  EXPECT_EQ(without.find("a.test"), std::string::npos);
}

TEST(TlsClientHelloTest, SeedMakesTheRandomParts) {
  EXPECT_EQ(tlsClientHello("x", 1), tlsClientHello("x", 1));
  EXPECT_NE(tlsClientHello("x", 1), tlsClientHello("x", 2));
}

TEST(TlsServerHelloTest, Tls13IsUp) {
  const CheckVerdict v = parseTlsServerHello(kTls13ServerHello);
  EXPECT_TRUE(isUp(v));
  EXPECT_EQ(v.reason, "ServerHello, TLS 1.3, TLS_AES_128_GCM_SHA256");
  expectPrefixesConsistent(kTls13ServerHello);
}

TEST(TlsServerHelloTest, Tls12IsUp) {
  const CheckVerdict v = parseTlsServerHello(kTls12ServerHello);
  EXPECT_TRUE(isUp(v));
  EXPECT_EQ(v.reason, "ServerHello, TLS 1.2, TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
  expectPrefixesConsistent(kTls12ServerHello);
}

TEST(TlsServerHelloTest, HelloRetryRequestIsUp) {
  const CheckVerdict v = parseTlsServerHello(kHelloRetryRequest);
  EXPECT_TRUE(isUp(v));
  EXPECT_EQ(v.reason.rfind("HelloRetryRequest, TLS 1.3", 0), 0U) << v.reason;
}

TEST(TlsServerHelloTest, AlertIsDownWithItsName) {
  const CheckVerdict v = parseTlsServerHello(kUnrecognizedName);
  EXPECT_TRUE(isDown(v));
  EXPECT_EQ(v.reason, "alert 112 unrecognized_name");
  expectPrefixesConsistent(kUnrecognizedName);
  EXPECT_EQ(parseTlsServerHello(fromHex("15030300020128")).reason,
            "alert 40 handshake_failure (warning)");
}

TEST(TlsServerHelloTest, HandshakeSplitAcrossRecords) {
  // The ServerHello message cut into two records, as RFC 8446 5.1 allows.
  const std::string message = kTls13ServerHello.substr(5);
  std::string split = std::string("\x16\x03\x03\x00\x0a", 5) + message.substr(0, 10);
  const std::size_t rest = message.size() - 10;
  split += std::string("\x16\x03\x03", 3) + static_cast<char>(rest >> 8) +
           static_cast<char>(rest & 0xff) + message.substr(10);
  EXPECT_TRUE(isUp(parseTlsServerHello(split)));
  expectPrefixesConsistent(split);
}

TEST(TlsServerHelloTest, NotTlsIsDown) {
  const CheckVerdict http = parseTlsServerHello("HTTP/1.1 400 Bad Request\r\n");
  EXPECT_TRUE(isDown(http));
  EXPECT_EQ(http.reason, "not TLS: the reply starts \"HTTP/1.1 400 Bad\"");
  EXPECT_TRUE(isDown(parseTlsServerHello("SSH-2.0-OpenSSH_9.2\r\n")));
  EXPECT_TRUE(isDown(parseTlsServerHello(std::string("\x16\x01", 2))));  // record version 1.x
  EXPECT_TRUE(isDown(parseTlsServerHello(std::string("\x17\x03\x03\x00\x01x", 6))));
  EXPECT_TRUE(isDown(parseTlsServerHello(std::string("\x16\x03\x03\x00\x00", 5))));
}

TEST(TlsServerHelloTest, EchoedClientHelloIsDown) {
  const CheckVerdict v = parseTlsServerHello(tlsClientHello("backend.test", 3));
  EXPECT_TRUE(isDown(v));
  EXPECT_EQ(v.reason, "handshake message 1 (client_hello) instead of a ServerHello");
}

TEST(TlsServerHelloTest, TruncatedNeedsMore) {
  EXPECT_TRUE(needsMore(parseTlsServerHello("")));
  EXPECT_TRUE(needsMore(parseTlsServerHello(kTls13ServerHello.substr(0, 5))));
  EXPECT_TRUE(needsMore(parseTlsServerHello(kTls13ServerHello.substr(0, 60))));
  EXPECT_TRUE(needsMore(parseTlsServerHello(kUnrecognizedName.substr(0, 6))));
}

TEST(TlsServerHelloTest, MalformedServerHelloIsDown) {
  // Extensions length one byte longer than the message holds.
  std::string bad = kTls13ServerHello;
  bad[5 + 4 + 2 + 32 + 1 + 32 + 3 + 1] += 1;
  EXPECT_TRUE(isDown(parseTlsServerHello(bad)));
  // A ServerHello too short to hold its fields.
  EXPECT_TRUE(isDown(parseTlsServerHello(fromHex("160303000802000004030300000000"))));
}

TEST(TlsCheckDialogTest, FeedsBytesAsTheyCome) {
  TlsCheckDialog dialog("backend.test", 9);
  EXPECT_EQ(dialog.opening(), tlsClientHello("backend.test", 9));
  for (std::size_t i = 0; i + 1 < kTls13ServerHello.size(); ++i) {
    const DialogStep step = dialog.onReceived(kTls13ServerHello.substr(i, 1));
    ASSERT_TRUE(needsMore(step.verdict)) << i;
    EXPECT_TRUE(step.send.empty());
  }
  EXPECT_TRUE(
      isUp(dialog.onReceived(kTls13ServerHello.substr(kTls13ServerHello.size() - 1)).verdict));
  EXPECT_TRUE(dialog.farewell().empty());
}

}  // namespace
}  // namespace l4lb::proto
