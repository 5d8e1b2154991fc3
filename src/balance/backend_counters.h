#pragma once

#include <atomic>
#include <cstdint>

namespace l4lb::balance {

// One backend's counters in one worker: written by that worker alone, read by the admin thread.
// A relaxed load and store instead of fetch_add (as proxy::Counter): no locked instruction on
// the data path, and a reader sees each value whole.
class RelaxedCounter {
 public:
  void add(std::uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void set(std::uint64_t n) { value_.store(n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

struct BackendCounters {
  RelaxedCounter active;    // connections or flows open now
  RelaxedCounter total;     // connections or flows sent to it (each connect attempt counts)
  RelaxedCounter failures;  // failed connects and resets from the backend
};

}  // namespace l4lb::balance
