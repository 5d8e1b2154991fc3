#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace l4lb::base {

// "100/s", "6000/m", "20/h": so many events per period. Written as a rate, applied as a token
// bucket that holds at most `count` tokens and regains them evenly over `period_ms`.
struct Rate {
  std::uint32_t count = 0;
  std::int64_t period_ms = 0;

  [[nodiscard]] bool enabled() const { return count > 0; }
};

// An error says what is wrong.
[[nodiscard]] Result<Rate> parseRate(std::string_view text);

// A bucket of tokens for one key (a client address), refilled lazily from the time of the last
// take: no timer per bucket. Starts full, so a client may burst up to `count` at once.
class TokenBucket {
 public:
  TokenBucket() = default;
  TokenBucket(const Rate& rate, std::int64_t now);

  // Takes one token if there is one.
  [[nodiscard]] bool take(const Rate& rate, std::int64_t now);
  // True when the bucket has refilled completely: forgetting it changes nothing.
  [[nodiscard]] bool full(const Rate& rate, std::int64_t now) const;

 private:
  // Tokens scaled by the period, so refill is integer arithmetic without drift:
  // one token = period_ms units, one millisecond adds `count` units.
  std::int64_t units_ = 0;
  std::int64_t updated_ms_ = 0;
};

}  // namespace l4lb::base
