#pragma once

// A job the main thread has another thread's event loop run, waiting for its result.

#include <chrono>
#include <future>
#include <memory>
#include <optional>

namespace l4lb::app {

// Runs `job` on `loop`'s thread and waits up to `timeout` for its result; none when it did not
// answer in time. A worker answers within one loop turn; one that has stopped (it drained) never
// does, hence the bound.
template <typename Result, typename Loop, typename Job>
[[nodiscard]] std::optional<Result> runOnLoop(Loop& loop, Job job,
                                              std::chrono::milliseconds timeout) {
  auto promise = std::make_shared<std::promise<Result>>();
  std::future<Result> future = promise->get_future();
  loop.post([promise, job]() mutable { promise->set_value(job()); });
  if (future.wait_for(timeout) != std::future_status::ready) return std::nullopt;
  return future.get();
}

}  // namespace l4lb::app
