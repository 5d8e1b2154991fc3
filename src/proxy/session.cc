#include "proxy/session.h"

#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <string>

#include "balance/flow_hash.h"
#include "base/log.h"
#include "io/clock.h"
#include "net/endpoint.h"
#include "net/socket.h"
#include "proxy/backend_source.h"

namespace l4lb::proxy {

Session::Session(const SessionEnv& env, SessionOwner* owner, const config::ListenerConfig& listener,
                 ListenerCounters& listener_counters, PoolState& pool, base::Fd client,
                 const ClientAddress& client_address)
    : env_(env),
      owner_(owner),
      listener_(listener),
      listener_counters_(listener_counters),
      pool_(&pool),
      relay_(*env.buffers, env.pipes, *env.stats, *env.loop, listener_counters),
      client_address_(client_address),
      started_ms_(env.loop->now()) {
  relay_.client.fd = std::move(client);
  relay_.touch();
  client_events_.session = this;
  backend_events_.session = this;
}

Session::~Session() { env_.loop->timers().cancel(this); }

void Session::start() {
  env_.stats->active.add();
  listener_counters_.active.add();
  auto added = env_.loop->add(relay_.client.fd.get(), kStreamEvents, &client_events_);
  if (!added) {
    base::logWarn("listener \"{}\": cannot watch client socket: {}", listener_.name,
                  added.error().message());
    finish(EndReason::kClientReset);
    return;
  }
  if (listener_.readsPreamble()) {
    startPreamble();
    return;
  }
  beginConnecting();
}

void Session::beginConnecting() {
  relay_.setRetaining(window_.open(*pool_->config));
  attempts_.reset(*pool_, balance::hashClient(&client_address_.addr.sa, pool_->config->hash_key));
  state_ = State::kConnecting;
  connectNext();
}

void Session::connectNext() {
  if (attempts_.left()) {
    bool saw_full = false;
    const std::uint32_t index = attempts_.pick(saw_full);
    if (index != balance::kNoBackend) {
      connectTo(index);
      return;
    }
    if (saw_full) {
      enterQueue();
      return;
    }
  }
  attempts_.logAllFailed(listener_.name, client_address_, *env_.failure_log, env_.loop->now());
  // Backends tried and none connected is another story than an empty or all-down pool.
  finish(attempts_.count() > 0 ? EndReason::kConnectFailed : EndReason::kNoBackend);
}

void Session::enterQueue() {
  // Every eligible backend is full (so the pool has slots): wait for one rather than fail, if
  // there is room to wait.
  if (!in_queue_count_) {
    if (!pool_->slots->tryEnterQueue(pool_->config->queue_max)) {
      finish(EndReason::kQueueFull);
      return;
    }
    in_queue_count_ = true;
  }
  state_ = State::kQueued;
  pool_->queue.push(this);
  // The wait is measured from the first time in the queue, however often it looks again.
  if (queued_until_ == 0) {
    queued_until_ = env_.loop->now() + pool_->config->queue_timeout.count();
    env_.stats->queued.add();
  }
  env_.loop->timers().schedule(this, queued_until_);
  owner_->onSessionQueued();
}

void Session::leaveQueueCount() {
  if (!in_queue_count_) return;
  in_queue_count_ = false;
  pool_->slots->leaveQueue();
}

void Session::retryFromQueue() {
  if (state_ != State::kQueued) return;
  pool_->queue.unlink(this);
  env_.loop->timers().cancel(this);
  state_ = State::kConnecting;
  connectNext();
}

void Session::connectTo(std::uint32_t index) {
  leaveQueueCount();
  attempts_.begin(index);
  connect_started_ns_ = io::monotonicNanos();
  if (first_connect_ms_ < 0) first_connect_ms_ = env_.loop->now();
  const net::Endpoint& address = pool_->config->backends[index].address;
  auto source = backendSource(pool_->config->source, &client_address_.addr.sa, client_address_.len,
                              address.family());
  base::Result<base::Fd> opened =
      source ? net::openStream(address, source.value()) : base::Result<base::Fd>(source.error());
  if (!opened) {
    // Out of descriptors or memory here, or the source address cannot be had: no other backend
    // would do better, and the backend is not to blame.
    const std::string reason = opened.error().message();
    attempts_.logAllFailed(listener_.name, client_address_, *env_.failure_log, env_.loop->now(),
                           reason.c_str());
    attempts_.failHere(opened.error().code);
    finish(EndReason::kConnectFailed);
    return;
  }
  auto connected = std::move(opened);
  if (const int error = net::startConnect(connected.value().get(), address); error != 0) {
    if (net::isLocalShortage(error)) {
      attempts_.logAllFailed(listener_.name, client_address_, *env_.failure_log, env_.loop->now(),
                             std::strerror(error));
      attempts_.failHere(error);
      finish(EndReason::kConnectFailed);
      return;
    }
    onConnectFailed(error);
    return;
  }
  relay_.backend.fd = std::move(connected.value());
  relay_.backend.forgetReadiness();
  // A new registration: an event fetched for the socket this one replaces is not delivered.
  auto added = env_.loop->add(relay_.backend.fd.get(), kStreamEvents, &backend_events_);
  if (!added) {
    relay_.backend.fd.reset();
    onConnectFailed(added.error().code);
    return;
  }
  env_.loop->timers().schedule(this, env_.loop->now() + pool_->config->connect_timeout.count());
}

void Session::closeBackend(bool reset) {
  if (!relay_.backend.fd) return;
  env_.loop->remove(relay_.backend.fd.get());
  if (reset) net::setResetOnClose(relay_.backend.fd.get());
  relay_.backend.fd.reset();
}

void Session::onConnectFailed(int error) {
  env_.stats->connect_failures.add();
  attempts_.fail(error, env_.loop->now());
  closeBackend(/*reset=*/false);
  if ((pool_->config->retry_on & config::kRetryConnFailure) == 0) {
    attempts_.logAllFailed(listener_.name, client_address_, *env_.failure_log, env_.loop->now());
    finish(EndReason::kConnectFailed);
    return;
  }
  connectNext();
}

void Session::onConnected() {
  state_ = State::kProxying;
  connected_ms_ = env_.loop->now();
  relay_.backend.writable = true;
  auto& counters = pool_->balancer->counters(attempts_.current());
  relay_.setBackendCounters(&counters);
  const std::int64_t took_ns = io::monotonicNanos() - connect_started_ns_;
  counters.observeConnect(static_cast<std::uint64_t>(std::max<std::int64_t>(took_ns, 0)) / 1000);
  if (!preamble_counted_) {
    // What the preamble read (the PROXY header taken off) goes to the first backend.
    preamble_counted_ = true;
    relay_.count(/*from_client=*/true, relay_.upstream.bytes);
  }
  relay_.touch();
  env_.loop->timers().schedule(this, relay_.lastActivity() + listener_.idle_timeout.count());
  if (pool_->config->send_proxy != config::SendProxy::kOff && !proxy_header_queued_) {
    queueProxyHeader();
    proxy_header_queued_ = true;
  }
  base::logDebug("listener \"{}\": connected to backend {}", listener_.name,
                 pool_->config->backends[attempts_.current()].name);
}

void Session::onClientEvents(std::uint32_t events) {
  if (state_ == State::kClosed) return;
  if ((events & EPOLLERR) != 0) {
    finish(EndReason::kClientReset);
    return;
  }
  relay_.client.noteReadiness(events);
  if (state_ == State::kInspecting) {
    readPreamble();
    return;
  }
  // Reads from the client stay off until a backend is connected; the flags keep what is ready.
  if (state_ == State::kProxying) pump();
}

void Session::onBackendEvents(std::uint32_t events) {
  if (state_ == State::kClosed) return;
  if (state_ == State::kConnecting) {
    if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) == 0) return;
    // Writable without an error means connected: SO_ERROR is read only to say why it failed.
    int error = 0;
    if ((events & (EPOLLERR | EPOLLHUP)) != 0) {
      error = net::socketError(relay_.backend.fd.get());
      if (error == 0) error = ECONNREFUSED;
    }
    if (error != 0) {
      env_.loop->timers().cancel(this);
      onConnectFailed(error);
      return;
    }
    onConnected();
  }
  if ((events & EPOLLERR) != 0) {
    if (relay_.retaining() && onEndedBeforeAnswer(net::socketError(relay_.backend.fd.get()))) {
      return;
    }
    finish(EndReason::kBackendReset);
    return;
  }
  relay_.backend.noteReadiness(events);
  pump();
}

void Session::pump() {
  while (true) {
    switch (relay_.pump()) {
      case RelayStop::kWaiting: return;
      case RelayStop::kCompleted: finish(EndReason::kCompleted); return;
      case RelayStop::kClientFailed: finish(EndReason::kClientReset); return;
      case RelayStop::kBackendFailed: finish(EndReason::kBackendReset); return;
      case RelayStop::kBackendAnswered:
        if (!onBackendAnswer()) return;
        continue;
      case RelayStop::kBackendEnded:
        if (onEndedBeforeAnswer(relay_.error())) return;
        if (relay_.error() != 0) {
          finish(EndReason::kBackendReset);
          return;
        }
        relay_.acceptBackendEof();
        continue;
    }
  }
}

bool Session::onBackendAnswer() {
  switch (window_.judge(relay_.answer())) {
    case ReplayWindow::Answer::kRepeated:
      // The client has this answer from the backend before; the next retained bytes may go.
      relay_.dropAnswer();
      relay_.setSendLimit(window_.sendLimit(proxy_header_bytes_));
      return true;
    case ReplayWindow::Answer::kNegotiation: relay_.passAnswer(); return true;
    case ReplayWindow::Answer::kMismatch: finish(EndReason::kBackendReset); return false;
    case ReplayWindow::Answer::kRefused:
      if (retryElsewhere(EPROTO)) return false;
      // Refused with nowhere else to go: the client gets the refusal as it was.
      [[fallthrough]];
    case ReplayWindow::Answer::kFinal:
      relay_.passAnswer();
      relay_.stopRetaining();
      return true;
  }
  return true;
}

bool Session::onEndedBeforeAnswer(int error) {
  if (!window_.retriesEmptyResponse()) return false;
  return retryElsewhere(error == 0 ? ENODATA : error);
}

bool Session::retryElsewhere(int error) {
  const std::uint32_t left = attempts_.current();
  const std::uint32_t replacement = attempts_.pickReplacement(error, env_.loop->now());
  if (replacement == balance::kNoBackend) return false;
  env_.stats->retried.add();
  base::logDebug("listener \"{}\": backend {} ended before answering ({}); trying {}",
                 listener_.name, pool_->config->backends[left].name, std::strerror(error),
                 pool_->config->backends[replacement].name);
  env_.loop->timers().cancel(this);
  closeBackend(/*reset=*/true);
  // Nothing of the old backend reached the client but the negotiation answers, which the new
  // one will repeat; everything retained goes again, and the client's EOF after it, if it came.
  relay_.rewind();
  window_.replay();
  relay_.setSendLimit(window_.sendLimit(proxy_header_bytes_));
  state_ = State::kConnecting;
  connectTo(replacement);
  return true;
}

void Session::onTimer() {
  switch (state_) {
    case State::kInspecting:
      if (proxy_pending_) {
        endPreamble(EndReason::kProxyTimeout, "no whole PROXY header within proxy_timeout", "");
      } else {
        endPreamble(EndReason::kInspectTimeout, "no whole ClientHello within inspect_timeout", "");
      }
      return;
    case State::kConnecting: onConnectFailed(ETIMEDOUT); return;
    case State::kQueued: finish(EndReason::kQueueTimeout); return;
    case State::kProxying: {
      const std::int64_t deadline = relay_.lastActivity() + listener_.idle_timeout.count();
      if (env_.loop->now() >= deadline) {
        finish(EndReason::kIdleTimeout);
      } else {
        env_.loop->timers().schedule(this, deadline);
      }
      return;
    }
    case State::kClosed: return;
  }
}

void Session::abort(EndReason reason) { finish(reason); }

void Session::finish(EndReason reason) {
  if (state_ == State::kClosed) return;
  if (state_ == State::kProxying) {
    attempts_.end(reason != EndReason::kBackendReset, env_.loop->now());
  } else {
    attempts_.endQuietly();
  }
  if (state_ == State::kQueued) pool_->queue.unlink(this);
  leaveQueueCount();
  state_ = State::kClosed;
  env_.loop->timers().cancel(this);
  // A reset, a timeout or a forced shutdown is passed on as a reset: a FIN would tell the other
  // side the data ended cleanly when it did not.
  if (reason != EndReason::kCompleted) {
    if (relay_.client.fd) net::setResetOnClose(relay_.client.fd.get());
    if (relay_.backend.fd) net::setResetOnClose(relay_.backend.fd.get());
  }
  if (taken_over_) {
    // The old process may still hold its copies of these sockets: closing ours would not take
    // them out of the loop's epoll (an open socket stays in it), and their next events would
    // reach this session after it is destroyed. Other sessions' sockets are theirs alone, and
    // close() alone deregisters them (no epoll_ctl per connection).
    env_.loop->remove(relay_.client.fd.get());
    env_.loop->remove(relay_.backend.fd.get());
  }
  relay_.client.fd.reset();
  relay_.backend.fd.reset();
  relay_.release();
  countEnd(reason);
  env_.stats->bytes_from_clients.add(relay_.upstream.bytes);
  env_.stats->bytes_from_backends.add(relay_.downstream.bytes);
  if (env_.access_log->enabled()) logAccess(reason);
  owner_->onSessionEnded(this);
}

void Session::countEnd(EndReason reason) {
  env_.stats->active.sub();
  env_.stats->endedBy(reason).add();
  listener_counters_.active.sub();
  listener_counters_.endedBy(reason).add();
}

void Session::logAccess(EndReason reason) const {
  std::string client = net::formatSockaddr(&client_address_.addr.sa, client_address_.len);
  AccessRecord record;
  record.listener = listener_.name;
  record.client = client;
  if (attempts_.current() != balance::kNoBackend) {
    record.backend = pool_->config->backends[attempts_.current()].name;
  }
  record.pool = pool_->config->name;
  record.sni = server_name_;
  if (connected_ms_ >= 0) {
    record.connect_ms = connected_ms_ - first_connect_ms_;
    if (relay_.firstBackendByte() >= 0) {
      record.first_byte_ms = std::max<std::int64_t>(relay_.firstBackendByte() - connected_ms_, 0);
    }
  }
  record.bytes_in = relay_.upstream.bytes;
  record.bytes_out = relay_.downstream.bytes;
  record.duration_ms = env_.loop->now() - started_ms_;
  record.attempts = attempts_.count();
  std::array<FailedAttempt, BackendAttempts::kMaxRecorded> failed;
  std::size_t failed_count = 0;
  for (std::size_t i = 0; i < attempts_.count(); ++i) {
    const BackendAttempts::Failure failure = attempts_.failure(i);
    if (failure.backend == balance::kNoBackend) continue;
    failed[failed_count++] = {pool_->config->backends[failure.backend].name, failure.error};
  }
  record.failed = std::span<const FailedAttempt>(failed.data(), failed_count);
  record.end = reason;
  env_.access_log->write(record);
}

}  // namespace l4lb::proxy
