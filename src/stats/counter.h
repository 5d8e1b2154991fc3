#pragma once

#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

namespace l4lb::stats {

// A counter with one writer (its worker) and any number of readers (admin, metrics). A relaxed
// load and store instead of fetch_add: no locked instruction on the data path, and a reader sees
// each value whole.
class Counter {
 public:
  void add(std::uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  void sub(std::uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// One counter per value of an enum that ends in kCount (why a connection or a flow ended).
template <typename Reason>
using ReasonCounters = std::array<Counter, static_cast<std::size_t>(Reason::kCount)>;

}  // namespace l4lb::stats
