#include "upgrade/handoff_message.h"

#include <gtest/gtest.h>

#include <string>

namespace l4lb::upgrade {
namespace {

std::span<const std::byte> bytesOf(const std::string& s) {
  return std::as_bytes(std::span(s.data(), s.size()));
}

HandoffMessage roundTrip(const HandoffMessage& message) {
  const std::string wire = encodeHandoff(message);
  auto decoded = decodeHandoff(bytesOf(wire));
  if (!decoded) {
    ADD_FAILURE() << decoded.error().message();
    return Done{};
  }
  return std::move(decoded).value();
}

HandoffMessage decodedMessage(const std::string& wire) {
  auto decoded = decodeHandoff(bytesOf(wire));
  return std::move(decoded).valueOr(Done{});
}

std::string decodeError(const std::string& wire) {
  auto decoded = decodeHandoff(bytesOf(wire));
  return decoded ? "" : decoded.error().message();
}

SessionHandoff sampleSession() {
  SessionHandoff s;
  s.listener = "redis";
  s.pool = "cache";
  s.backend = "tcp://127.0.0.1:6379";
  s.client_address = std::string("\x02\x00\xc3\x50\x7f\x00\x00\x01", 8);
  s.age_ms = 3'600'000;
  s.attempts = 2;
  s.upstream.pending = "*1\r\n$4\r\nPING\r\n";
  s.upstream.bytes = 1'000'014;
  s.downstream.bytes = 1u << 30;
  s.downstream.piped = 65536;
  s.downstream.source_eof = true;
  return s;
}

TEST(HandoffMessageTest, EachTypeRoundTrips) {
  const Hello hello{.protocol = kProtocolVersion,
                    .pid = 4242,
                    .version = "0.1.0",
                    .config_digest = "sha256:ab12"};
  EXPECT_EQ(std::get<Hello>(roundTrip(hello)), hello);
  const ListenerHandoff listener{.name = "web", .bind = "tcp://0.0.0.0:443", .worker = 1};
  EXPECT_EQ(std::get<ListenerHandoff>(roundTrip(listener)), listener);
  const SessionHandoff session = sampleSession();
  EXPECT_EQ(std::get<SessionHandoff>(roundTrip(session)), session);
  const Done done{.listeners = 4, .sessions = 1000};
  EXPECT_EQ(std::get<Done>(roundTrip(done)), done);
  const ListenersSent sent{.count = 6};
  EXPECT_EQ(std::get<ListenersSent>(roundTrip(sent)), sent);
  const TakenOver taken{.listeners = {"web", "dns", ""}};
  EXPECT_EQ(std::get<TakenOver>(roundTrip(taken)), taken);
  EXPECT_EQ(std::get<TakenOver>(roundTrip(TakenOver{})), TakenOver{});
  const FlowHandoff flow{.worker = 1,
                         .listener = "dns",
                         .pool = "resolvers",
                         .backend = "udp://127.0.0.1:53",
                         .client_address = std::string("\x02\x00\x30\x39\x7f\x00\x00\x01", 8),
                         .socket_cookie = 0x1122334455667788};
  EXPECT_EQ(std::get<FlowHandoff>(roundTrip(flow)), flow);
  const BackendStates states{.backends = {{.pool = "web",
                                           .backend = "b1",
                                           .address = "tcp://127.0.0.1:80",
                                           .health = 1,
                                           .admin = 2,
                                           .weight = 300,
                                           .reason = "http check: 200"}}};
  EXPECT_EQ(std::get<BackendStates>(roundTrip(states)), states);
  const AnnounceInterface announce{.name = "l4vip0",
                                   .listeners = {{.listener = "web", .admin = 1}}};
  EXPECT_EQ(std::get<AnnounceInterface>(roundTrip(announce)), announce);
  EXPECT_EQ(std::get<AnnounceInterface>(roundTrip(AnnounceInterface{})), AnnounceInterface{});
}

TEST(HandoffMessageTest, BackendStatesAreBoundedAndKnown) {
  BackendStates states;
  BackendRecord record;
  record.pool = "p";
  record.backend = "b";
  states.backends.assign(kMaxBackendRecords + 1, record);
  EXPECT_NE(decodeError(encodeHandoff(states)).find("backend records, more than"),
            std::string::npos);
  record.health = 9;
  states.backends.assign(1, record);
  EXPECT_NE(decodeError(encodeHandoff(states)).find("unknown state"), std::string::npos);
}

TEST(HandoffMessageTest, AnnouncedListenerStatesAreBoundedAndKnown) {
  AnnounceInterface announce{.name = "l4vip0", .listeners = {{.listener = "web", .admin = 3}}};
  EXPECT_NE(decodeError(encodeHandoff(announce)).find("unknown state"), std::string::npos);
  announce.listeners.assign(kMaxTakenOverNames + 1,
                            ListenerAdminState{.listener = "x", .admin = 1});
  EXPECT_NE(decodeError(encodeHandoff(announce)).find("listener states, more than"),
            std::string::npos);
}

TEST(HandoffMessageTest, TakenOverNamesAreBounded) {
  TakenOver taken;
  taken.listeners.assign(kMaxTakenOverNames + 1, "x");
  EXPECT_NE(decodeError(encodeHandoff(taken)).find("taken-over listeners, more than"),
            std::string::npos);
  taken.listeners.pop_back();
  EXPECT_EQ(decodeError(encodeHandoff(taken)), "");
}

TEST(HandoffMessageTest, PendingBytesKeepEveryByteValue) {
  SessionHandoff session = sampleSession();
  session.upstream.pending.clear();
  for (int i = 0; i < 256; ++i) session.upstream.pending.push_back(static_cast<char>(i));
  session.upstream.pending.append(kMaxPendingBytes - 256, '\0');
  EXPECT_EQ(std::get<SessionHandoff>(roundTrip(session)), session);
}

TEST(HandoffMessageTest, DescriptorCountFollowsThePipes) {
  SessionHandoff session = sampleSession();
  EXPECT_EQ(handoffFdCount(session), 4U);  // client, backend, downstream pipe's two ends
  session.downstream.piped = 0;
  EXPECT_EQ(handoffFdCount(session), 2U);
  EXPECT_EQ(handoffFdCount(ListenerHandoff{}), 1U);
  EXPECT_EQ(handoffFdCount(Hello{}), 0U);
  EXPECT_EQ(handoffFdCount(Done{}), 0U);
  EXPECT_EQ(handoffFdCount(FlowHandoff{}), 1U);
  EXPECT_EQ(handoffFdCount(TakenOver{}), 0U);
  EXPECT_EQ(handoffFdCount(AnnounceInterface{}), 1U);  // the TUN device
}

TEST(HandoffMessageTest, AFlowWithoutTheSocketCookieIsUnderstood) {
  // A sender from before the cookie ends the message after the client's address.
  FlowHandoff flow{.worker = 2,
                   .listener = "dns",
                   .pool = "p",
                   .backend = "b",
                   .client_address = "",
                   .socket_cookie = 7};
  std::string wire = encodeHandoff(flow);
  wire.resize(wire.size() - sizeof(std::uint64_t));
  ASSERT_EQ(decodeError(wire), "");
  flow.socket_cookie = 0;
  EXPECT_EQ(std::get<FlowHandoff>(decodedMessage(wire)), flow);
  // That is also how an unknown cookie (0) is sent: one wire form per message.
  EXPECT_EQ(encodeHandoff(flow), wire);
  EXPECT_NE(decodeError(wire + std::string(sizeof(std::uint64_t), '\0')).find("cookie 0"),
            std::string::npos);
  // Part of a cookie is not.
  EXPECT_NE(decodeError(wire + "abc"), "");
}

TEST(HandoffMessageTest, EveryTruncationIsAnError) {
  const std::string wire = encodeHandoff(sampleSession());
  for (std::size_t n = 0; n < wire.size(); ++n) {
    EXPECT_NE(decodeError(wire.substr(0, n)), "") << "cut at " << n;
  }
  EXPECT_EQ(decodeError(wire), "");
  EXPECT_NE(decodeError(wire + "x").find("after the end"), std::string::npos);
}

TEST(HandoffMessageTest, RejectsWhatCannotBeTrue) {
  EXPECT_NE(decodeError(std::string(1, '\x0a')).find("unknown message type 10"), std::string::npos);
  // A name longer than any l4lb writes.
  std::string oversized =
      encodeHandoff(ListenerHandoff{.name = std::string(5000, 'n'), .bind = "", .worker = 0});
  EXPECT_NE(decodeError(oversized).find("more than 4096"), std::string::npos);
  // Shut down with bytes still waiting: the old process would never have sent the EOF.
  SessionHandoff session = sampleSession();
  session.upstream.source_eof = true;
  session.upstream.shut_down = true;
  EXPECT_NE(decodeError(encodeHandoff(session)).find("shut down with bytes"), std::string::npos);
  // More bytes held than ever read.
  session = sampleSession();
  session.upstream.bytes = 3;
  EXPECT_NE(decodeError(encodeHandoff(session)).find("more bytes than it ever read"),
            std::string::npos);
  // Too big as a whole.
  EXPECT_NE(decodeError(std::string(kMaxMessageBytes + 1, '\x01')).find("more than"),
            std::string::npos);
}

}  // namespace
}  // namespace l4lb::upgrade
