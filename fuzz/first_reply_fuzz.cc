// libFuzzer target for proto::classifyFirstReply (proto/first_reply.h): a backend's first bytes,
// judged for each protocol. Properties: no crash or overread, and for each protocol the verdict
// on the full reply is one of the three.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <span>

#include "proto/first_reply.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using l4lb::proto::FirstReply;
  using l4lb::proto::GreetingProtocol;
  const std::span<const std::uint8_t> reply(data, size);
  for (GreetingProtocol protocol : {GreetingProtocol::kNone, GreetingProtocol::kMysql,
                                    GreetingProtocol::kPgsql, GreetingProtocol::kRedis}) {
    const FirstReply verdict = l4lb::proto::classifyFirstReply(protocol, reply);
    if (verdict != FirstReply::kAnswered && verdict != FirstReply::kRefused &&
        verdict != FirstReply::kNegotiation) {
      std::abort();
    }
    // Only a pgsql "N" alone is a negotiation.
    if (verdict == FirstReply::kNegotiation &&
        (protocol != GreetingProtocol::kPgsql || size != 1)) {
      std::abort();
    }
  }
  return 0;
}
