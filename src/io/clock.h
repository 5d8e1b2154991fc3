#pragma once

#include <time.h>

#include <cstdint>

namespace l4lb::io {

// Milliseconds on CLOCK_MONOTONIC_COARSE: timers here are timeouts of milliseconds to minutes,
// and the coarse clock costs no system call.
inline std::int64_t monotonicMillis() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000 + ts.tv_nsec / 1'000'000;
}

// Nanoseconds on CLOCK_MONOTONIC (vDSO, no system call), for spans shorter than a millisecond.
inline std::int64_t monotonicNanos() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

}  // namespace l4lb::io
