#include "base/rate.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

namespace l4lb::base {

Result<Rate> parseRate(std::string_view text) {
  const std::size_t slash = text.find('/');
  if (slash == std::string_view::npos) {
    return failure("expected COUNT/UNIT, e.g. \"100/s\", \"600/m\" or \"1000/h\"");
  }
  const std::string_view count_text = text.substr(0, slash);
  const std::string_view unit = text.substr(slash + 1);
  std::uint64_t count = 0;
  auto [end, ec] = std::from_chars(count_text.data(), count_text.data() + count_text.size(), count);
  if (ec != std::errc() || end != count_text.data() + count_text.size() || count_text.empty()) {
    return failure(fmt::format("\"{}\" is not a whole number", count_text));
  }
  if (count == 0 || count > 1'000'000) {
    return failure(fmt::format("the count must be between 1 and 1000000, got {}", count));
  }
  std::int64_t period_ms = 0;
  if (unit == "s") {
    period_ms = 1000;
  } else if (unit == "m") {
    period_ms = 60'000;
  } else if (unit == "h") {
    period_ms = 3'600'000;
  } else {
    return failure(fmt::format("unknown unit \"{}\": expected s, m or h", unit));
  }
  return Rate{static_cast<std::uint32_t>(count), period_ms};
}

TokenBucket::TokenBucket(const Rate& rate, std::int64_t now)
    : units_(std::int64_t{rate.count} * rate.period_ms), updated_ms_(now) {}

bool TokenBucket::take(const Rate& rate, std::int64_t now) {
  const std::int64_t capacity = std::int64_t{rate.count} * rate.period_ms;
  if (now > updated_ms_) {
    units_ = std::min(capacity, units_ + (now - updated_ms_) * std::int64_t{rate.count});
    updated_ms_ = now;
  }
  if (units_ < rate.period_ms) return false;
  units_ -= rate.period_ms;
  return true;
}

bool TokenBucket::full(const Rate& rate, std::int64_t now) const {
  const std::int64_t capacity = std::int64_t{rate.count} * rate.period_ms;
  const std::int64_t elapsed = std::max<std::int64_t>(0, now - updated_ms_);
  return units_ + elapsed * std::int64_t{rate.count} >= capacity;
}

}  // namespace l4lb::base
