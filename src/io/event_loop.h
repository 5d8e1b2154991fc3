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

// Work that must not run inside an event's callback, because it could reach back into the code
// that is still running (a session that ends lets a queued one retry, which may end too...): the
// loop runs it after the batch of events and due timers, again until none is pending, so however
// long the chain, the stack stays one level deep.
class AfterBatch {
 public:
  virtual ~AfterBatch() = default;
  virtual void onBatchEnd() = 0;

 private:
  friend class EventLoop;
  bool pending_ = false;
};

// One thread's epoll loop: descriptors, timers, deferred deletion, and a queue other threads
// post work to (control plane only: new configs, health and admin snapshots, shutdown; never
// per packet).
//
// Stale events: a batch of events is fetched at once, and a handler may remove (or close) a
// descriptor whose event is still further down the batch, then register a new one, possibly
// under the same number and for the same handler (a session retrying on another backend). Each
// registration is tagged with a generation (as nginx tags its events with an `instance` bit), so
// an event fetched for a registration that has since been removed or replaced is dropped here,
// for every handler, rather than read as news about the new descriptor.
class EventLoop {
 public:
  static base::Result<std::unique_ptr<EventLoop>> create();

  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;
  ~EventLoop();

  // A new registration: events already fetched for `fd` (an earlier one) are not delivered.
  [[nodiscard]] base::Result<void> add(int fd, std::uint32_t events, EventHandler* handler);
  // The same registration, other events or handler.
  [[nodiscard]] base::Result<void> modify(int fd, std::uint32_t events, EventHandler* handler);
  // Ends the registration: events already fetched for it are not delivered.
  void remove(int fd);

  TimerQueue& timers() { return timers_; }
  // The loop's notion of now, refreshed once per wakeup.
  [[nodiscard]] std::int64_t now() const { return now_; }

  void deferDelete(std::unique_ptr<Deferred> object) { graveyard_.push_back(std::move(object)); }

  // Runs `work` after the current batch (once, however often it is asked before then). From
  // outside a batch (a posted task), it runs after that task's batch too.
  void runAfterBatch(AfterBatch* work);

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
  // Runs once per event: inlined into run(), since a call around the generation check cost
  // about as much as the check itself.
  [[gnu::always_inline]] inline void dispatch(const epoll_event& event);
  void runAfterBatchWork();
  // The registration record for `fd`, grown to fit (descriptors are small integers).
  struct Registration {
    EventHandler* handler = nullptr;
    std::uint32_t generation = 0;
  };
  Registration& registrationOf(int fd);

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
  // By descriptor number; epoll_event.data carries the number and the generation at add().
  std::vector<Registration> registrations_;
  std::vector<AfterBatch*> after_batch_;
  std::vector<AfterBatch*> after_batch_running_;  // swapped with after_batch_: no allocation
  std::int64_t now_ = 0;
  bool running_ = false;
  bool busy_ = false;  // the last wakeup found events
  std::int64_t busy_poll_ns_ = 0;

  std::mutex posted_mutex_;
  std::vector<std::function<void()>> posted_;
};

}  // namespace l4lb::io
