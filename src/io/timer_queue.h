#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace l4lb::io {

class TimerQueue;

// Something to be called back at a deadline. Embedded in its owner (a session, an acceptor):
// scheduling never allocates once the queue's array has grown to the number of live timers.
class Timer {
 public:
  Timer() = default;
  Timer(const Timer&) = delete;
  Timer& operator=(const Timer&) = delete;
  virtual ~Timer() = default;

  virtual void onTimer() = 0;

  [[nodiscard]] bool scheduled() const { return heap_index_ != kNotScheduled; }
  [[nodiscard]] std::int64_t deadline() const { return deadline_; }

 private:
  friend class TimerQueue;
  static constexpr std::size_t kNotScheduled = SIZE_MAX;
  std::int64_t deadline_ = 0;
  std::size_t heap_index_ = kNotScheduled;
};

// A binary min-heap of timers by deadline (milliseconds, monotonic). Idle timeouts do not
// touch the heap on every byte: owners keep their last-activity time and, when the timer fires
// early, schedule it again for the real deadline.
class TimerQueue {
 public:
  void schedule(Timer* timer, std::int64_t deadline);
  void cancel(Timer* timer);

  // Milliseconds until the earliest deadline (0 if due), or -1 when there is none.
  [[nodiscard]] int millisUntilNext(std::int64_t now) const;

  // Calls onTimer() of every timer due at `now`, unscheduling each before its call.
  void runDue(std::int64_t now);

  [[nodiscard]] std::size_t size() const { return heap_.size(); }

 private:
  void siftUp(std::size_t index);
  void siftDown(std::size_t index);
  void place(std::size_t index, Timer* timer);
  void removeAt(std::size_t index);

  std::vector<Timer*> heap_;
};

}  // namespace l4lb::io
