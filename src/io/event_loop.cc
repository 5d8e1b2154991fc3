#include "io/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>

#include "base/log.h"
#include "io/clock.h"

namespace l4lb::io {

base::SysResult<std::unique_ptr<EventLoop>> EventLoop::create(LoopOptions options) {
  auto poller = options.backend == IoBackend::kIoUring ? makeUringPoller(options.batch_wait_us)
                                                       : makeEpollPoller();
  if (!poller) return poller.error();
  base::Fd wakeup(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK));
  if (!wakeup) return base::lastError("eventfd");
  std::unique_ptr<EventLoop> loop(new EventLoop(std::move(poller.value()), std::move(wakeup)));
  auto added = loop->add(loop->wakeup_.get(), EPOLLIN, &loop->wakeup_handler_);
  if (!added) return added.error();
  return loop;
}

EventLoop::EventLoop(std::unique_ptr<Poller> poller, base::Fd wakeup)
    : poller_(std::move(poller)), wakeup_(std::move(wakeup)), now_(monotonicMillis()) {}

EventLoop::~EventLoop() = default;

base::SysResult<bool> EventLoop::add(int fd, std::uint32_t events, EventHandler* handler) {
  return poller_->add(fd, events, handler);
}

base::SysResult<bool> EventLoop::modify(int fd, std::uint32_t events, EventHandler* handler) {
  return poller_->modify(fd, events, handler);
}

void EventLoop::remove(int fd) { poller_->remove(fd); }

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
    int count = poller_->wait(events, max_events, 0);
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
    if (count == 0) count = poller_->wait(events.data(), kMaxEvents, timeout);
    if (count < 0) {
      if (errno == EINTR) continue;
      base::logError("{} wait failed: {}", poller_->name(), base::lastError("wait").message());
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
  poller_->settle();
}

}  // namespace l4lb::io
