#pragma once

#include <array>
#include <cstdint>
#include <string_view>

#include "balance/balancer.h"
#include "base/log_throttle.h"
#include "proxy/pool_state.h"

namespace l4lb::proxy {

struct ClientAddress;

// The backends one connection tries, in turn: at most the pool's retries + 1. A pick skips the
// backends already tried, and those at max_connections (which do not count as attempts); the
// current attempt holds what its pick took (the balancer's connection count, the backend's slot)
// until it is given back. Passive health hears of each outcome. Why each attempt failed is kept
// for the one log line written when all have.
class BackendAttempts {
 public:
  static constexpr std::size_t kMaxRecorded = 16;  // caps attempts per connection

  // Starts over with `pool` (chosen at accept, or by a route), for a client of hash `flow_hash`.
  void reset(PoolState& pool, std::uint64_t flow_hash);

  // An eligible backend with a free slot (taken), or kNoBackend; `saw_full` is set when some
  // were skipped only for being full.
  [[nodiscard]] std::uint32_t pick(bool& saw_full);
  // `index` (picked, slot held) becomes the current attempt.
  void begin(std::uint32_t index);
  // The current attempt failed (errno `error`): passive health hears of it, it is recorded, and
  // what it took is given back.
  void fail(int error, std::int64_t now);
  // The current attempt could not even start here (no descriptor, no memory): recorded, with
  // no word to passive health (the backend is not to blame), and what it took is given back.
  void failHere(int error);
  // The current attempt gives back what it took and is forgotten (a retry, a handover).
  void release();
  // Leaves the current attempt (it failed with `error` after connecting) for another backend:
  // the replacement, picked with its slot held but not begun; or kNoBackend, nothing changed,
  // when no attempt or no other backend is left.
  [[nodiscard]] std::uint32_t pickReplacement(int error, std::int64_t now);
  // The session ends connected: passive health hears how its backend did (`ok`), and what it
  // took is given back. The backend stays current, for the access log.
  void end(bool ok, std::int64_t now);
  // The same without a word to passive health (it ended before it was connected).
  void endQuietly();

  [[nodiscard]] bool left() const { return count_ < max(); }
  [[nodiscard]] std::uint32_t current() const { return current_; }
  [[nodiscard]] std::uint8_t count() const { return count_; }
  [[nodiscard]] bool holding() const { return holding_; }
  // Attempt `i` (< count()): the backend it failed on and the errno, or balance::kNoBackend
  // when it did not fail (the current one, or one handed over by an upgrade).
  struct Failure {
    std::uint32_t backend = balance::kNoBackend;
    int error = 0;
  };
  [[nodiscard]] Failure failure(std::size_t i) const { return {failed_[i], errors_[i]}; }
  // A session handed over by a binary upgrade, connected to `backend` after `count` attempts.
  void resume(std::uint8_t count, std::uint32_t backend);

  // The line when no backend could be connected, throttled: each attempt's backend and error,
  // and `local_error` when the last one had no socket here.
  void logAllFailed(std::string_view listener, const ClientAddress& client,
                    base::LogThrottle& throttle, std::int64_t now,
                    const char* local_error = nullptr) const;

 private:
  [[nodiscard]] std::uint32_t max() const;

  PoolState* pool_ = nullptr;
  std::uint64_t flow_hash_ = 0;
  std::uint32_t current_ = balance::kNoBackend;
  bool holding_ = false;  // current_'s balancer count and slot are held
  std::uint8_t count_ = 0;
  std::array<std::uint32_t, kMaxRecorded> failed_{};
  std::array<std::uint8_t, kMaxRecorded> errors_{};  // errno values
};

}  // namespace l4lb::proxy
