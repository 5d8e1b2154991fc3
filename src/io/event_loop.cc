#include "io/event_loop.h"

#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "base/log.h"
#include "io/clock.h"

namespace l4lb::io {

base::Result<std::unique_ptr<EventLoop>> EventLoop::create() {
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

namespace {

// epoll_event.data: the descriptor in the low half, its registration's generation in the high.
std::uint64_t tagOf(int fd, std::uint32_t generation) {
  return (static_cast<std::uint64_t>(generation) << 32) | static_cast<std::uint32_t>(fd);
}

}  // namespace

EventLoop::Registration& EventLoop::registrationOf(int fd) {
  const auto index = static_cast<std::size_t>(fd);
  if (index >= registrations_.size()) {
    // Grows rarely (doubling), and only when a new descriptor number is first registered.
    registrations_.resize(std::max<std::size_t>(index + 1, registrations_.size() * 2));
  }
  return registrations_[index];
}

base::Result<void> EventLoop::add(int fd, std::uint32_t events, EventHandler* handler) {
  if (fd < 0) return base::sysError(EBADF, "epoll_ctl add");
  Registration& registration = registrationOf(fd);
  // A new generation even if the add fails: whatever was fetched for this number is stale.
  ++registration.generation;
  registration.handler = handler;
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tagOf(fd, registration.generation);
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev) != 0) {
    registration.handler = nullptr;
    return base::lastError("epoll_ctl add");
  }
  return {};
}

base::Result<void> EventLoop::modify(int fd, std::uint32_t events, EventHandler* handler) {
  if (fd < 0) return base::sysError(EBADF, "epoll_ctl mod");
  Registration& registration = registrationOf(fd);
  epoll_event ev{};
  ev.events = events;
  ev.data.u64 = tagOf(fd, registration.generation);
  if (::epoll_ctl(epoll_.get(), EPOLL_CTL_MOD, fd, &ev) != 0)
    return base::lastError("epoll_ctl mod");
  registration.handler = handler;
  return {};
}

void EventLoop::remove(int fd) {
  // Failure means the descriptor was not registered, which is what the caller wants anyway.
  ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  if (fd < 0 || static_cast<std::size_t>(fd) >= registrations_.size()) return;
  Registration& registration = registrations_[static_cast<std::size_t>(fd)];
  registration.handler = nullptr;
  ++registration.generation;
}

void EventLoop::dispatch(const epoll_event& event) {
  const auto index = static_cast<std::size_t>(event.data.u64 & 0xffffffffU);
  const auto generation = static_cast<std::uint32_t>(event.data.u64 >> 32);
  if (index >= registrations_.size()) return;
  const Registration& registration = registrations_[index];
  // Removed, or replaced by a later add(), since the batch was fetched: not about this one.
  if (registration.generation != generation || registration.handler == nullptr) return;
  registration.handler->onEvents(event.events);
}

void EventLoop::runAfterBatch(AfterBatch* work) {
  if (work->pending_) return;
  work->pending_ = true;
  after_batch_.push_back(work);
}

void EventLoop::runAfterBatchWork() {
  // Work may ask for more work (itself included): rounds until none is pending.
  while (!after_batch_.empty()) {
    after_batch_running_.swap(after_batch_);
    for (AfterBatch* work : after_batch_running_) {
      work->pending_ = false;
      work->onBatchEnd();
    }
    after_batch_running_.clear();
  }
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
    for (int i = 0; i < count; ++i) dispatch(events[i]);
    timers_.runDue(now_);
    runAfterBatchWork();
    graveyard_.clear();
  }
  graveyard_.clear();
}

}  // namespace l4lb::io
