#pragma once

#include <array>
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
  void sub(std::uint64_t n = 1) {
    value_.store(value_.load(std::memory_order_relaxed) - n, std::memory_order_relaxed);
  }
  void set(std::uint64_t n) { value_.store(n, std::memory_order_relaxed); }
  [[nodiscard]] std::uint64_t get() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> value_{0};
};

// Upper bounds of the connect-time histogram's buckets, in microseconds (0.5 ms to 2.5 s); one
// more bucket past the last takes the slower connects.
inline constexpr std::array<std::uint64_t, 12> kConnectBucketsUs = {
    500,    1'000,   2'500,   5'000,   10'000,    25'000,
    50'000, 100'000, 250'000, 500'000, 1'000'000, 2'500'000};

struct BackendCounters {
  RelaxedCounter active;    // connections or flows open now
  RelaxedCounter total;     // connections or flows sent to it (each connect attempt counts)
  RelaxedCounter failures;  // failed connects and resets from the backend
  // Stream bytes relayed, counted as they are read (so long connections report as they go).
  RelaxedCounter bytes_to_backend;    // read from clients, for this backend
  RelaxedCounter bytes_from_backend;  // read from this backend, for clients
  // Successful connects by how long they took (not cumulative: a reader adds them up); the
  // count is the sum of the buckets.
  std::array<RelaxedCounter, kConnectBucketsUs.size() + 1> connect_buckets;
  RelaxedCounter connect_sum_us;

  void observeConnect(std::uint64_t us) {
    std::size_t i = 0;
    while (i < kConnectBucketsUs.size() && us > kConnectBucketsUs[i]) ++i;
    connect_buckets[i].add();
    connect_sum_us.add(us);
  }
};

}  // namespace l4lb::balance
