#pragma once

// A job the main thread has another thread's event loop run, waiting for its result.

#include <atomic>
#include <chrono>
#include <future>
#include <memory>
#include <optional>

namespace l4lb::app {

// Runs `job` on `loop`'s thread and waits up to `timeout` for its result; none when it did not
// answer in time. A worker answers within one loop turn; one that has stopped (it drained) never
// does, hence the bound.
//
// A job never outlives its waiter's interest (issue 14, hazard 3): the job and the waiter share
// one state, pending -> running or pending -> abandoned, whichever comes first. A waiter that
// gives up before the job began abandons it, and the job, whenever the loop gets to it, does
// nothing: a handoff it would have made (sessions taken apart) is not made for nobody. A waiter
// that gives up after the job began waits for its result instead: a job that runs, on the loop's
// thread, finishes. `job` is copied into the loop's queue; it captures by value, since it may
// be destroyed there long after this returns.
template <typename Result, typename Loop, typename Job>
[[nodiscard]] std::optional<Result> runOnLoop(Loop& loop, Job job,
                                              std::chrono::milliseconds timeout) {
  enum class Phase { kPending, kRunning, kAbandoned };
  struct Shared {
    std::atomic<Phase> phase{Phase::kPending};
    std::promise<Result> result;
  };
  auto shared = std::make_shared<Shared>();
  std::future<Result> future = shared->result.get_future();
  loop.post([shared, job]() mutable {
    Phase expected = Phase::kPending;
    if (!shared->phase.compare_exchange_strong(expected, Phase::kRunning)) return;  // abandoned
    shared->result.set_value(job());
  });
  if (future.wait_for(timeout) == std::future_status::ready) return future.get();
  Phase expected = Phase::kPending;
  if (shared->phase.compare_exchange_strong(expected, Phase::kAbandoned)) return std::nullopt;
  return future.get();  // it began in time: it finishes
}

}  // namespace l4lb::app
