#include "proto/tls_client_hello.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "recorded_bytes.h"

namespace l4lb::proto {
namespace {

using namespace std::string_literals;
using Strings = std::vector<std::string>;
using std::string_view_literals::operator""sv;

std::string u16(std::size_t v) {
  return {static_cast<char>((v >> 8) & 0xff), static_cast<char>(v & 0xff)};
}
std::string u24(std::size_t v) { return static_cast<char>((v >> 16) & 0xff) + u16(v); }

std::string extension(std::uint16_t type, std::string_view data) {
  return u16(type) + u16(data.size()) + std::string(data);
}

std::string sni(std::string_view name) {
  const std::string entry = "\x00"s + u16(name.size()) + std::string(name);
  return extension(0, u16(entry.size()) + entry);
}

std::string alpn(const Strings& names) {
  std::string list;
  for (const std::string& name : names) list += static_cast<char>(name.size()) + name;
  return extension(16, u16(list.size()) + list);
}

// A ClientHello handshake message with the given extensions block (nullopt-like: a body
// without the extensions length when `with_extensions` is false).
std::string helloMessage(std::string_view extensions, bool with_extensions = true,
                         std::string_view session_id = "", std::string_view ciphers = "\x13\x01",
                         std::string_view compression = "\x00"s) {
  std::string body = "\x03\x03"s + std::string(32, 'r');
  body += static_cast<char>(session_id.size()) + std::string(session_id);
  body += u16(ciphers.size()) + std::string(ciphers);
  body += static_cast<char>(compression.size()) + std::string(compression);
  if (with_extensions) body += u16(extensions.size()) + std::string(extensions);
  return "\x01"s + u24(body.size()) + body;
}

// The message cut into handshake records of at most `fragment` bytes.
std::string records(std::string_view message, std::size_t fragment = 16384,
                    std::string_view version = "\x03\x01") {
  std::string out;
  for (std::size_t at = 0; at < message.size(); at += fragment) {
    const std::string_view part = message.substr(at, fragment);
    out += "\x16"s + std::string(version) + u16(part.size()) + std::string(part);
  }
  return out;
}

// The handshake message inside a recorded stream of records.
std::string messageOf(std::string_view stream) {
  std::string message;
  while (stream.size() >= 5) {
    const std::size_t length =
        static_cast<std::uint8_t>(stream[3]) << 8 | static_cast<std::uint8_t>(stream[4]);
    message += stream.substr(5, length);
    stream.remove_prefix(5 + length);
  }
  return message;
}

ClientHelloResult feedInPieces(std::string_view bytes, std::size_t piece) {
  ClientHelloInspector inspector;
  for (std::size_t at = 0; at < bytes.size(); at += piece) {
    if (inspector.feed(bytes.substr(at, piece)) != ClientHelloStatus::kNeedMore) break;
  }
  return {inspector.status(), inspector.info(), inspector.error(), inspector.consumed()};
}

ClientHelloResult done(std::string_view bytes) {
  ClientHelloResult result = inspectClientHello(bytes);
  EXPECT_EQ(result.status, ClientHelloStatus::kDone) << result.error;
  return result;
}

std::string malformed(std::string_view bytes) {
  const ClientHelloResult result = inspectClientHello(bytes);
  EXPECT_EQ(result.status, ClientHelloStatus::kMalformed);
  EXPECT_FALSE(result.error.empty());
  EXPECT_TRUE(result.info.server_name.empty());  // nothing half-parsed is exposed
  return result.error;
}

// The answer does not depend on how the stream is cut: every two-way split, and one byte at a
// time, give what the whole does, and every prefix only asks for more.
void expectSplitIndependent(std::string_view bytes) {
  const ClientHelloResult whole = inspectClientHello(bytes);
  for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
    ClientHelloInspector inspector;
    const ClientHelloStatus first = inspector.feed(bytes.substr(0, cut));
    if (cut < whole.consumed) {
      ASSERT_EQ(first, ClientHelloStatus::kNeedMore) << "prefix of " << cut;
    }
    inspector.feed(bytes.substr(cut));
    ASSERT_EQ(inspector.status(), whole.status) << "cut at " << cut;
    EXPECT_EQ(inspector.info().server_name, whole.info.server_name);
    EXPECT_EQ(inspector.info().alpn, whole.info.alpn);
    EXPECT_EQ(inspector.consumed(), whole.consumed);
  }
  const ClientHelloResult bytewise = feedInPieces(bytes, 1);
  EXPECT_EQ(bytewise.status, whole.status);
  EXPECT_EQ(bytewise.info.server_name, whole.info.server_name);
}

// --- recorded hellos ---

TEST(ClientHelloTest, OpensslSniAndAlpn) {
  const std::string bytes = fromHex(recorded::kOpensslSniAlpn);
  const ClientHelloResult r = done(bytes);
  EXPECT_EQ(r.info.server_name, "www.example.com");
  EXPECT_EQ(r.info.alpn, (Strings{"h2", "http/1.1"}));
  EXPECT_EQ(r.info.legacy_version, 0x0303);
  EXPECT_EQ(r.consumed, bytes.size());
  expectSplitIndependent(bytes);
}

TEST(ClientHelloTest, OpensslWithoutSniIsDoneWithoutAName) {
  const ClientHelloResult r = done(fromHex(recorded::kOpensslNoSniTls12));
  EXPECT_EQ(r.info.server_name, "");
  EXPECT_TRUE(r.info.alpn.empty());
}

TEST(ClientHelloTest, OpensslManyAlpnNames) {
  const ClientHelloResult r = done(fromHex(recorded::kOpensslManyAlpn));
  EXPECT_EQ(r.info.server_name, "big.example.com");
  EXPECT_EQ(r.info.alpn, (Strings{"h2", "http/1.1", "spdy/3.1", "xmpp-client", "imap", "pop3",
                                  "managesieve", "stun.turn"}));
}

TEST(ClientHelloTest, Curl) {
  const std::string bytes = fromHex(recorded::kCurlH2);
  const ClientHelloResult r = done(bytes);
  EXPECT_EQ(r.info.server_name, "api.example.org");
  EXPECT_EQ(r.info.alpn, (Strings{"h2", "http/1.1"}));
  expectSplitIndependent(bytes);
}

TEST(ClientHelloTest, CurlMixedCaseNameIsLowerCased) {
  const ClientHelloResult r = done(fromHex(recorded::kCurlHttp11MixedCase));
  EXPECT_EQ(r.info.server_name, "mixed.case.example.net");
  EXPECT_EQ(r.info.alpn, (Strings{"http/1.1"}));
}

// nginx-tests get_frag: the hello fragmented across records, here down to one byte each.
TEST(ClientHelloTest, RecordedHelloRefragmentedAcrossRecords) {
  const std::string message = messageOf(fromHex(recorded::kCurlH2));
  for (const std::size_t fragment : {1u, 7u, 100u, 300u}) {
    const std::string stream = records(message, fragment);
    const ClientHelloResult r = done(stream);
    EXPECT_EQ(r.info.server_name, "api.example.org") << fragment;
    EXPECT_EQ(r.consumed, stream.size());
  }
  expectSplitIndependent(records(message, 100));
}

TEST(ClientHelloTest, BytesAfterTheHelloAreNotLookedAt) {
  const std::string hello = fromHex(recorded::kOpensslSniAlpn);
  const std::string next = "\x14\x03\x03\x00\x01\x01"s;  // change_cipher_spec
  ClientHelloInspector inspector;
  EXPECT_EQ(inspector.feed(hello + next), ClientHelloStatus::kDone);
  EXPECT_EQ(inspector.consumed(), hello.size());
  EXPECT_EQ(inspector.feed("more"), ClientHelloStatus::kDone);
  EXPECT_EQ(inspector.consumed(), hello.size());
}

// --- sizes (tldr.fail, caddy-l4 PR #346, Envoy client_hello_too_large) ---

TEST(ClientHelloTest, PostQuantumSizeHelloInTwoSegments) {
  const std::string key_share =
      extension(51, u16(1220) + "\x11\xec"s + u16(1216) + std::string(1216, 'k'));
  const std::string stream = records(helloMessage(sni("pq.example.com") + alpn({"h2"}) + key_share +
                                                  extension(0x2b, std::string(300, 'c'))));
  ASSERT_GT(stream.size(), 1500u);
  const ClientHelloResult r = feedInPieces(stream, 1400);
  EXPECT_EQ(r.status, ClientHelloStatus::kDone);
  EXPECT_EQ(r.info.server_name, "pq.example.com");
}

TEST(ClientHelloTest, SeventeenKilobyteHelloAcrossTwoRecords) {
  const std::string padding = extension(21, std::string(17000, '\0'));
  const std::string stream = records(helloMessage(sni("big.example.com") + padding));
  ASSERT_EQ(stream[3], '\x40');  // the first record is full
  const ClientHelloResult over = inspectClientHello(stream);
  EXPECT_EQ(over.status, ClientHelloStatus::kTooLarge);
  EXPECT_EQ(over.error, "ClientHello of 17075 bytes over the budget of 16384");
  EXPECT_EQ(over.consumed, 9u);  // refused as soon as the handshake length is known
  const ClientHelloResult fits = inspectClientHello(stream, 32 * 1024);
  EXPECT_EQ(fits.status, ClientHelloStatus::kDone);
  EXPECT_EQ(fits.info.server_name, "big.example.com");
  EXPECT_EQ(
      inspectClientHello(records(helloMessage(extension(21, std::string(70000, 'p'))))).status,
      ClientHelloStatus::kTooLarge);
}

TEST(ClientHelloTest, TinyRecordsAreBudgetedToo) {
  // 1-byte records: 6 stream bytes per hello byte, past twice the budget before the end.
  const std::string stream = records(helloMessage(extension(21, std::string(8000, 'p'))), 1);
  const ClientHelloResult r = inspectClientHello(stream);
  EXPECT_EQ(r.status, ClientHelloStatus::kTooLarge);
  EXPECT_EQ(r.error, "ClientHello records run past 32768 bytes");
}

// --- not TLS ---

TEST(ClientHelloTest, NotTlsIsKnownFromTheFirstBytes) {
  for (const std::string_view start : {"GET / HTTP/1.1\r\n"sv, "\x80\x2e\x01\x03\x01"sv,
                                       "\x16\x02\x01"sv, "\x16\x03\x10"sv, "\x17\x03\x03"sv}) {
    ClientHelloInspector inspector;
    EXPECT_EQ(inspector.feed(start), ClientHelloStatus::kNotTls) << inspector.error();
    EXPECT_LE(inspector.consumed(), 3u);
  }
  EXPECT_EQ(inspectClientHello("\x16\x03").status, ClientHelloStatus::kNeedMore);
  EXPECT_EQ(inspectClientHello("").status, ClientHelloStatus::kNeedMore);
}

TEST(ClientHelloTest, AnyRecordVersion3xIsAccepted) {
  for (const std::string_view version : {"\x03\x00"sv, "\x03\x01"sv, "\x03\x03"sv}) {
    EXPECT_EQ(done(records(helloMessage(sni("a.example")), 16384, version)).info.server_name,
              "a.example");
  }
}

// --- malformed records and handshake (research/reliability.md 4.3 (a)) ---

TEST(ClientHelloTest, MalformedRecords) {
  EXPECT_EQ(malformed("\x16\x03\x01\x00\x00"s), "empty handshake record");
  EXPECT_EQ(malformed("\x16\x03\x01\x40\x01"s), "record length 16385 over 16384");
  const std::string message = helloMessage(sni("a.example"));
  const std::string first = records(message.substr(0, 10));
  EXPECT_EQ(malformed(first + "\x17\x03\x03\x00\x05hello"s), "content type 23 is not handshake");
  EXPECT_EQ(malformed(first + "\x16\x04\x03\x00\x05hello"s), "record version is not 3.x");
  EXPECT_EQ(malformed(records("\x02\x00\x00\x04"
                              "abcd"s)),
            "handshake message type 2 is not ClientHello");
  EXPECT_EQ(malformed(records("\x01\x00\x00\x00"s)), "ClientHello ends inside legacy_version");
  EXPECT_EQ(inspectClientHello(records("\x01\xff\xff\xff"s)).status, ClientHelloStatus::kTooLarge);
}

TEST(ClientHelloTest, MalformedBody) {
  EXPECT_EQ(malformed(records(helloMessage("", true, std::string(33, 's')))),
            "session id length 33 over 32");
  EXPECT_EQ(malformed(records(helloMessage("", true, "", "\x13"))),
            "cipher suites length 1 is odd or zero");
  EXPECT_EQ(malformed(records(helloMessage("", true, "", ""))),
            "cipher suites length 0 is odd or zero");
  EXPECT_EQ(malformed(records(helloMessage("", true, "", "\x13\x01", ""))),
            "compression methods length 0");
  // No extensions block at all is a valid (old) hello.
  EXPECT_EQ(done(records(helloMessage("", false))).info.server_name, "");

  std::string shorter = helloMessage(sni("a.example"));
  const std::size_t ext_length_at = 4 + 2 + 32 + 1 + 2 + 2 + 1 + 1;
  shorter[ext_length_at + 1] = static_cast<char>(shorter[ext_length_at + 1] - 1);
  EXPECT_EQ(malformed(records(shorter)), "extensions length 17 but 18 bytes follow");
  std::string longer = helloMessage(sni("a.example"));
  longer[ext_length_at + 1] = static_cast<char>(longer[ext_length_at + 1] + 1);
  EXPECT_EQ(malformed(records(longer)), "extensions length 19 but 18 bytes follow");
  EXPECT_EQ(malformed(records(helloMessage("\x00\x2b\x00\x09\x02"s))),
            "extension 43 of length 9 overruns the extensions block");
  EXPECT_EQ(malformed(records(helloMessage("\x00\x2b\x00"s))),
            "extension header overruns the extensions block");
}

TEST(ClientHelloTest, MalformedServerName) {
  const auto hello = [](std::string_view extensions) { return records(helloMessage(extensions)); };
  // zapret2 #259: the list length must match the extension.
  EXPECT_EQ(done(hello(extension(0,
                                 "\x00\x05\x00\x00\x02"
                                 "ab"s)))
                .info.server_name,
            "ab");
  EXPECT_EQ(malformed(hello(extension(0,
                                      "\x00\x06\x00\x00\x02"
                                      "ab"s))),
            "server_name list length 6 does not match the extension's 5");
  // tlse #139: an extension shorter than one entry.
  EXPECT_EQ(malformed(hello(extension(0, "\x00\x01\x00"s))), "server_name entry overruns the list");
  EXPECT_EQ(malformed(hello(extension(0, "\x00"s))), "server_name extension shorter than 2 bytes");
  EXPECT_EQ(malformed(hello(extension(0, "\x00\x00"s))), "server_name list is empty");
  EXPECT_EQ(malformed(hello(sni(""))), "host_name is empty");
  EXPECT_EQ(malformed(hello(extension(0, "\x00\x03\x00\xff\xff"s))),
            "server_name entry overruns the list");
  EXPECT_EQ(malformed(hello(sni(std::string(256, 'a')))), "host_name of 256 bytes over 255");
  const std::string two = "\x00\x00\x01"s + "a" + "\x00\x00\x01"s + "b";
  EXPECT_EQ(malformed(hello(extension(0, u16(two.size()) + two))), "two host_name entries");
  EXPECT_EQ(malformed(hello(sni("a.example") + sni("b.example"))),
            "duplicate server_name extension");
  EXPECT_EQ(malformed(hello(sni("a\0b.example"s))),
            "host_name has a byte that is not a letter, digit, '-', '_' or '.'");
  EXPECT_EQ(malformed(hello(sni("[::1]"))),
            "host_name has a byte that is not a letter, digit, '-', '_' or '.'");
  EXPECT_EQ(malformed(hello(sni("example.com."))), "host_name ends with a dot");
  EXPECT_EQ(malformed(hello(sni("a..example"))), "host_name has an empty label");
  EXPECT_EQ(malformed(hello(sni(".example"))), "host_name has an empty label");
  EXPECT_EQ(malformed(hello(sni("192.0.2.1"))), "host_name is an IPv4 literal");
  EXPECT_EQ(malformed(hello(sni(std::string(64, 'l') + ".example"))),
            "host_name has a label over 63 bytes");
  // An entry of another name type is skipped; the host_name beside it is read.
  const std::string other = "\x01\x00\x01"s + "x" + "\x00\x00\x09"s + "a.example";
  EXPECT_EQ(done(hello(extension(0, u16(other.size()) + other))).info.server_name, "a.example");
  EXPECT_EQ(done(hello(sni("Under_Score-1.EXAMPLE"))).info.server_name, "under_score-1.example");
}

TEST(ClientHelloTest, MalformedAlpn) {
  const auto hello = [](std::string_view extensions) { return records(helloMessage(extensions)); };
  EXPECT_EQ(malformed(hello(extension(16, "\x00\x03\x02h2"s + "x"))),
            "ALPN list length 3 does not match the extension's 4");
  EXPECT_EQ(malformed(hello(extension(16, "\x00\x03\x00h2"s))), "empty ALPN protocol name");
  EXPECT_EQ(malformed(hello(extension(16, "\x00\x03\x05h2"s))),
            "ALPN protocol name overruns the list");
  EXPECT_EQ(malformed(hello(extension(16, "\x00\x00"s))), "ALPN list is empty");
  EXPECT_EQ(malformed(hello(alpn({"h2"}) + alpn({"h2"}))), "duplicate ALPN extension");
  // Binary names pass through as they are.
  EXPECT_EQ(done(hello(alpn({"\0\xff"s}))).info.alpn, (Strings{"\0\xff"s}));
}

// Found by client_hello_fuzz: a bad handshake type was refused after 9 bytes when the record
// came whole and after 6 when it came byte by byte. Every refusal now happens at one offset.
TEST(ClientHelloTest, RefusalsHappenAtTheSameOffsetHoweverTheStreamIsCut) {
  expectSplitIndependent("\x16\x03\x01\x02\x00\xa7\x2b\x20\xdb\x9d"s);
  expectSplitIndependent(records(helloMessage(sni("a..example"))));
  expectSplitIndependent(records(helloMessage(extension(21, std::string(17000, 'p')))));
  expectSplitIndependent(records(helloMessage(extension(21, std::string(300, 'p'))), 1));
  const ClientHelloResult r = inspectClientHello("\x16\x03\x01\x02\x00\xa7"s);
  EXPECT_EQ(r.status, ClientHelloStatus::kMalformed);
  EXPECT_EQ(r.consumed, 6u);
}

TEST(ClientHelloTest, GreaseAndUnknownExtensionsAreSkipped) {
  const std::string extensions = extension(0x0a0a, "") + sni("grease.example") +
                                 extension(0xfe0d, std::string(100, 'e')) +  // ECH outer
                                 alpn({"h2"}) + extension(0x1a1a, "\x00"s);
  const ClientHelloResult r = done(records(helloMessage(extensions)));
  EXPECT_EQ(r.info.server_name, "grease.example");
  EXPECT_EQ(r.info.alpn, (Strings{"h2"}));
}

}  // namespace
}  // namespace l4lb::proto
