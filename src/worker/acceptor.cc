#include "worker/acceptor.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "net/socket.h"
#include "worker/connection_limits.h"
#include "worker/worker.h"

namespace l4lb::worker {

namespace {
constexpr std::int64_t kFirstBackoffMs = 10;
constexpr std::int64_t kMaxBackoffMs = 1000;
// How soon a listener held back by a limit looks again for room made on other workers.
constexpr std::int64_t kRoomRecheckMs = 10;
}  // namespace

Acceptor::Acceptor(Worker& worker, std::uint32_t listener_index, base::Fd owned, int shared_fd)
    : worker_(worker),
      listener_index_(listener_index),
      owned_(std::move(owned)),
      shared_fd_(shared_fd) {}

base::Result<void> Acceptor::arm() {
  std::uint32_t events = EPOLLIN;
  // A shared socket is in every worker's epoll: wake one worker per connection, not all.
  if (!owned_) events |= EPOLLEXCLUSIVE;
  auto added = worker_.loop().add(fd(), events, this);
  if (added) watching_ = true;
  return added;
}

void Acceptor::close() {
  closed_ = true;
  worker_.loop().timers().cancel(this);
  if (watching_) worker_.loop().remove(fd());
  watching_ = false;
  owned_.reset();
}

void Acceptor::setSuspended(bool suspended) {
  if (closed_ || suspended == suspended_) return;
  suspended_ = suspended;
  if (suspended) {
    worker_.loop().timers().cancel(this);
    unwatch();
    return;
  }
  onTimer();
}

void Acceptor::onEvents(std::uint32_t /*events*/) {
  ConnectionLimits* limits = worker_.connectionLimits();
  const bool limited = limits != nullptr && limits->limits(listener_index_);
  while (!closed_) {
    if (limited && !limits->tryAcquire(listener_index_)) {
      waitForRoom();
      return;
    }
    proxy::ClientAddress address;
    address.len = sizeof(address.addr);
    int client = ::accept4(fd(), &address.addr.sa, &address.len, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (client >= 0) {
      backoff_ms_ = 0;
      worker_.onAccepted(listener_index_, base::Fd(client), address);
      continue;
    }
    const int error = errno;
    if (limited) limits->release(listener_index_);
    switch (error) {
      case EAGAIN: return;
      case EINTR:
      case ECONNABORTED:
      case EPROTO: continue;
      default:
        if (!net::isLocalShortage(error)) worker_.stats().accept_errors.add();
        pause(error);
        return;
    }
  }
}

void Acceptor::pause(int error) {
  worker_.stats().accept_paused.add();
  ++pauses_since_log_;
  backoff_ms_ = backoff_ms_ == 0 ? kFirstBackoffMs : std::min(backoff_ms_ * 2, kMaxBackoffMs);
  std::int64_t now = worker_.loop().now();
  if (now - last_log_ms_ >= 1000) {
    base::logWarn(
        "listener \"{}\" worker {}: accept failed: {}; pausing {} ms ({} pauses since last log)",
        worker_.listenerName(listener_index_), worker_.id(), std::strerror(error), backoff_ms_,
        pauses_since_log_);
    last_log_ms_ = now;
    pauses_since_log_ = 0;
  }
  unwatch();
  worker_.loop().timers().schedule(this, now + backoff_ms_);
}

void Acceptor::unwatch() {
  if (watching_) worker_.loop().remove(fd());
  watching_ = false;
}

void Acceptor::waitForRoom() {
  if (!waiting_for_room_) {
    worker_.stats().accept_limited.add();
    worker_.listenerCounters(listener_index_).accept_limited.add();
  }
  waiting_for_room_ = true;
  unwatch();
  worker_.loop().timers().schedule(this, worker_.loop().now() + kRoomRecheckMs);
}

void Acceptor::onRoom() {
  if (!waiting_for_room_ || closed_) return;
  worker_.loop().timers().cancel(this);
  onTimer();
}

void Acceptor::onTimer() {
  if (closed_ || watching_ || suspended_) return;
  waiting_for_room_ = false;
  auto rearmed = arm();
  if (!rearmed) {
    base::logError("listener \"{}\": cannot watch listening socket again: {}",
                   worker_.listenerName(listener_index_), rearmed.error().message());
    return;
  }
  // Edge-triggered or not, connections that queued while unwatched must be taken now.
  onEvents(EPOLLIN);
}

}  // namespace l4lb::worker
