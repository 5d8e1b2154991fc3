#pragma once

#include <sys/epoll.h>

#include <array>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "base/fd.h"
#include "base/result.h"
#include "io/timer_queue.h"

namespace l4lb::io {

// Receives readiness events for one descriptor registered with an EventLoop.
class EventHandler {
 public:
  virtual ~EventHandler() = default;
  virtual void onEvents(std::uint32_t events) = 0;
};

// Objects that end inside a callback (sessions) are handed here and destroyed after the current
// batch of events, so no event later in the batch reaches freed memory.
class Deferred {
 public:
  virtual ~Deferred() = default;
};

// One thread's epoll loop: descriptors, timers, deferred deletion, and a queue other threads
// post work to (control plane only: config snapshots, shutdown; never per packet).
class EventLoop {
 public:
  static base::SysResult<std::unique_ptr<EventLoop>> create();

  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;
  ~EventLoop();

  [[nodiscard]] base::SysResult<bool> add(int fd, std::uint32_t events, EventHandler* handler);
  [[nodiscard]] base::SysResult<bool> modify(int fd, std::uint32_t events, EventHandler* handler);
  void remove(int fd);

  TimerQueue& timers() { return timers_; }
  // The loop's notion of now, refreshed once per wakeup.
  [[nodiscard]] std::int64_t now() const { return now_; }

  void deferDelete(std::unique_ptr<Deferred> object) { graveyard_.push_back(std::move(object)); }

  // Thread-safe: runs `task` on the loop's thread at its next wakeup.
  void post(std::function<void()> task);

  // After a wakeup that found work, poll without sleeping for up to this long before blocking
  // in epoll_wait. Under load the loop then rarely sleeps, so the threads that feed it (on other
  // CPUs) do not pay for waking it, a cross-CPU interrupt that is costly in virtual machines.
  // 0 (the default) never polls.
  void setBusyPoll(std::chrono::nanoseconds duration) { busy_poll_ns_ = duration.count(); }

  // Runs until stop() is called from the loop's thread (or a posted task).
  void run();
  void stop() { running_ = false; }

 private:
  EventLoop(base::Fd epoll, base::Fd wakeup);
  void runPosted();
  int pollBriefly(epoll_event* events, int max_events);

  class WakeupHandler : public EventHandler {
   public:
    explicit WakeupHandler(EventLoop* loop) : loop_(loop) {}
    void onEvents(std::uint32_t events) override;

   private:
    EventLoop* loop_;
  };

  base::Fd epoll_;
  base::Fd wakeup_;  // eventfd for post()
  WakeupHandler wakeup_handler_{this};
  TimerQueue timers_;
  std::vector<std::unique_ptr<Deferred>> graveyard_;
  std::int64_t now_ = 0;
  bool running_ = false;
  bool busy_ = false;  // the last wakeup found events
  std::int64_t busy_poll_ns_ = 0;

  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
};

}  // namespace l4lb::io
