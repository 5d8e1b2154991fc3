#pragma once

#include <cstdint>
#include <span>

namespace l4lb::proto {

// Protocols whose first answer tells whether the server took the connection at all. A refusal
// there means nothing the client sent was acted on, so the connection may be tried again on
// another server (pool key retry_on = "refused-greeting").
enum class GreetingProtocol : std::uint8_t { kNone, kMysql, kPgsql, kRedis };

enum class FirstReply : std::uint8_t {
  kAnswered,     // a real answer (or one that cannot be told apart from one): the retry window ends
  kRefused,      // the server turned the connection away before doing anything
  kNegotiation,  // pgsql: 'N' declining an SSLRequest / GSSENCRequest; the real answer follows
};

// Judges the bytes of the server's first read. Needs only the first few bytes (mysql 5, pgsql 1,
// redis up to 11); fewer than that, or any other protocol, counts as kAnswered.
[[nodiscard]] FirstReply classifyFirstReply(GreetingProtocol protocol,
                                            std::span<const std::uint8_t> reply);

}  // namespace l4lb::proto
