#pragma once

#include <cstdint>

namespace l4lb::base {

// Lets through at most `burst` log lines per second and counts the rest, so a failure that hits
// every connection (all backends down, descriptors exhausted) cannot flood the log. One per
// worker and purpose: not thread-safe.
class LogThrottle {
 public:
  explicit LogThrottle(std::uint32_t burst = 5) : burst_(burst) {}

  // True when a line may be written now. `suppressed` then holds how many were held back since
  // the last line that went out, to be mentioned in it.
  [[nodiscard]] bool allow(std::int64_t now_ms, std::uint64_t& suppressed) {
    if (now_ms - window_start_ms_ >= 1000) {
      window_start_ms_ = now_ms;
      lines_in_window_ = 0;
    }
    if (lines_in_window_ >= burst_) {
      ++suppressed_;
      return false;
    }
    ++lines_in_window_;
    suppressed = suppressed_;
    suppressed_ = 0;
    return true;
  }

 private:
  std::uint32_t burst_;
  std::uint32_t lines_in_window_ = 0;
  std::int64_t window_start_ms_ = -1'000'000;
  std::uint64_t suppressed_ = 0;
};

}  // namespace l4lb::base
