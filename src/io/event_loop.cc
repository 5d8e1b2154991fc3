#include "io/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "base/log.h"
#include "io/clock.h"

namespace l4lb::io {

base::SysResult<std::unique_ptr<EventLoop>> EventLoop::create() {
  base::Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll) return base::lastError("epoll_create1");
  base::Fd wakeup(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wakeup) return base::lastError("eventfd");
  std::unique_ptr<EventLoop> loop(new EventLoop(std::move(epoll), std::move(wakeup)));
  auto added = loop->add(loop->wakeup_.get(), EPOLLIN, &loop->wakeup_handler_);
  if (!added) return added.error();
  return loop;
}

EventLoop::EventLoop(base::Fd epoll, base::Fd wakeup)
    : epoll_(std::move(epoll)), wakeup_(std::move(wakeup)), now_(monotonicMillis()) {}

EventLoop::~EventLoop() = default;

base::SysResult<bool> EventLoop::add(int fd, std::uint32_t events, EventHandler* handler) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0)
    return base::lastError("epoll_ctl add");
  return true;
}

base::SysResult<bool> EventLoop::modify(int fd, std::uint32_t events, EventHandler* handler) {
  epoll_event ev{};
  ev.events = events;
  ev.data.ptr = handler;
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0)
    return base::lastError("epoll_ctl mod");
  return true;
}

void EventLoop::remove(int fd) {
  // Failure means the descriptor was not registered, which is what the caller wants anyway.
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
}

void EventLoop::post(std::function<void()> task) {
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    posted_.push_back(std::move(task));
  }
  std::uint64_t one = 1;
  [[maybe_unused]] ssize_t n = ::write(wakeup_.get(), &one, sizeof(one));
}

void EventLoop::WakeupHandler::onEvents(std::uint32_t /*events*/) {
  std::uint64_t count = 0;
  [[maybe_unused]] ssize_t n = ::read(loop_->wakeup_.get(), &count, sizeof(count));
  loop_->runPosted();
}

void EventLoop::runPosted() {
  std::vector<std::function<void()>> tasks;
  {
    std::lock_guard<std::mutex> lock(posted_mutex_);
    tasks.swap(posted_);
  }
  for (auto& task : tasks) task();
}

int EventLoop::pollBriefly(epoll_event* events, int max_events) {
  // Only right after work: an idle loop sleeps at once and costs nothing.
  if (!busy_) return 0;
  const std::int64_t until = monotonicNanos() + busy_poll_ns_;
  do {
    int count = ::epoll_wait(epoll_.get(), events, max_events, 0);
    if (count != 0) return count;
  } while (monotonicNanos() < until);
  return 0;
}

void EventLoop::run() {
  constexpr int kMaxEvents = 256;
  std::array<epoll_event, kMaxEvents> events{};
  running_ = true;
  while (running_) {
    now_ = monotonicMillis();
    int timeout = timers_.millisUntilNext(now_);
    int count = busy_poll_ns_ > 0 && timeout != 0 ? pollBriefly(events.data(), kMaxEvents) : 0;
    if (count == 0) count = ::epoll_wait(epoll_.get(), events.data(), kMaxEvents, timeout);
    if (count < 0) {
      if (errno == EINTR) continue;
      base::logError("epoll_wait failed: {}", base::lastError("epoll_wait").message());
      return;
    }
    now_ = monotonicMillis();
    busy_ = count > 0;
    for (int i = 0; i < count; ++i) {
      static_cast<EventHandler*>(events[i].data.ptr)->onEvents(events[i].events);
    }
    timers_.runDue(now_);
    graveyard_.clear();
  }
  graveyard_.clear();
}

}  // namespace l4lb::io
