#include "proto/first_reply.h"

#include <algorithm>
#include <array>
#include <string_view>

namespace l4lb::proto {

namespace {

bool startsWith(std::span<const std::uint8_t> bytes, std::string_view prefix) {
  return bytes.size() >= prefix.size() &&
         std::equal(prefix.begin(), prefix.end(), bytes.begin(),
                    [](char a, std::uint8_t b) { return static_cast<std::uint8_t>(a) == b; });
}

// The server greets first with packet 0; an ERR packet (0xff) in its place is a refusal: too
// many connections, host blocked, server shutting down.
FirstReply classifyMysql(std::span<const std::uint8_t> reply) {
  constexpr std::size_t kHeader = 4;
  if (reply.size() <= kHeader) return FirstReply::kAnswered;
  return reply[3] == 0 && reply[kHeader] == 0xff ? FirstReply::kRefused : FirstReply::kAnswered;
}

// The client speaks first (startup message, or an SSLRequest answered by one byte). An
// ErrorResponse before authentication means no session began: 57P03 shutting down, 53300 too
// many connections, a role or database that does not exist.
FirstReply classifyPgsql(std::span<const std::uint8_t> reply) {
  if (reply.empty()) return FirstReply::kAnswered;
  if (reply.size() == 1 && reply[0] == 'N') return FirstReply::kNegotiation;
  return reply[0] == 'E' ? FirstReply::kRefused : FirstReply::kAnswered;
}

// Errors a server returns without running the command: still loading its data set, or a
// replica that lost its primary and will not serve stale data.
FirstReply classifyRedis(std::span<const std::uint8_t> reply) {
  constexpr std::array<std::string_view, 2> kRefusals = {"-LOADING", "-MASTERDOWN"};
  for (std::string_view refusal : kRefusals) {
    if (startsWith(reply, refusal)) return FirstReply::kRefused;
  }
  return FirstReply::kAnswered;
}

}  // namespace

FirstReply classifyFirstReply(GreetingProtocol protocol, std::span<const std::uint8_t> reply) {
  switch (protocol) {
    case GreetingProtocol::kMysql: return classifyMysql(reply);
    case GreetingProtocol::kPgsql: return classifyPgsql(reply);
    case GreetingProtocol::kRedis: return classifyRedis(reply);
    case GreetingProtocol::kNone: break;
  }
  return FirstReply::kAnswered;
}

}  // namespace l4lb::proto
