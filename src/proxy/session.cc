#include "proxy/session.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <span>
#include <string>

#include "base/log.h"
#include "io/clock.h"
#include "net/endpoint.h"
#include "net/socket.h"
#include "proto/proxy_protocol.h"

namespace l4lb::proxy {

namespace {

bool isTransient(int error) { return error == EAGAIN || error == EWOULDBLOCK || error == EINTR; }

// The protocol the pool's health check speaks: it tells a refusal, and PostgreSQL's SSLRequest
// answers (which do not end the retry window), from a real first answer.
proto::GreetingProtocol greetingOf(const config::PoolConfig& pool) {
  if (!pool.health) return proto::GreetingProtocol::kNone;
  switch (pool.health->check) {
    case config::CheckKind::kMysql: return proto::GreetingProtocol::kMysql;
    case config::CheckKind::kPgsql: return proto::GreetingProtocol::kPgsql;
    case config::CheckKind::kRedis: return proto::GreetingProtocol::kRedis;
    default: return proto::GreetingProtocol::kNone;
  }
}

}  // namespace

Session::Session(const SessionEnv& env, SessionOwner* owner, const config::ListenerConfig& listener,
                 ListenerCounters& listener_counters, PoolState& pool, base::Fd client,
                 const ClientAddress& client_address)
    : env_(env),
      owner_(owner),
      listener_(listener),
      listener_counters_(listener_counters),
      pool_(&pool),
      client_address_(client_address),
      started_ms_(env.loop->now()),
      last_activity_ms_(env.loop->now()) {
  client_.session = this;
  client_.fd = std::move(client);
  backend_.session = this;
}

Session::~Session() { env_.loop->timers().cancel(this); }

void Session::Side::noteReadiness(std::uint32_t events) {
  if ((events & EPOLLIN) != 0) readable = true;
  if ((events & EPOLLOUT) != 0) writable = true;
  if ((events & (EPOLLRDHUP | EPOLLHUP)) != 0) peer_closed = readable = true;
}

void Session::Side::onEvents(std::uint32_t events) {
  if (this == &session->client_) {
    session->onClientEvents(events);
  } else {
    session->onBackendEvents(events);
  }
}

void Session::start() {
  env_.stats->active.add();
  listener_counters_.active.add();
  auto added = env_.loop->add(client_.fd.get(), kStreamEvents, &client_);
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
  const auto& pool = *pool_->config;
  replayable_ =
      (pool.retry_on & (config::kRetryEmptyResponse | config::kRetryRefusedGreeting)) != 0;
  greeting_ = greetingOf(pool);
  state_ = State::kConnecting;
  connectNext();
}

std::uint32_t Session::maxAttempts() const {
  return std::min<std::uint32_t>(pool_->config->retries + 1,
                                 static_cast<std::uint32_t>(kMaxRecordedFailures));
}

void Session::connectNext() {
  const auto& pool = *pool_->config;
  if (attempts_ < maxAttempts()) {
    bool saw_full = false;
    std::uint32_t index = pickBackend(saw_full);
    if (index == balance::kNoBackend) {
      if (saw_full) {
        // Every eligible backend is full: wait for a slot rather than fail, if there is room
        // to wait (saw_full means the pool has slots).
        if (!in_queue_count_) {
          if (!pool_->slots->tryEnterQueue(pool.queue_max)) {
            finish(EndReason::kQueueFull);
            return;
          }
          in_queue_count_ = true;
        }
        state_ = State::kQueued;
        pool_->queue.push(this);
        // The wait is measured from the first time in the queue, however often it looks again.
        if (queued_until_ == 0) {
          queued_until_ = env_.loop->now() + pool.queue_timeout.count();
          env_.stats->queued.add();
        }
        env_.loop->timers().schedule(this, queued_until_);
        owner_->onSessionQueued();
        return;
      }
    } else {
      connectTo(index);
      return;
    }
  }
  logAllConnectsFailed(nullptr);
  finish(EndReason::kNoBackend);
}

void Session::leaveQueueCount() {
  if (!in_queue_count_) return;
  in_queue_count_ = false;
  pool_->slots->leaveQueue();
}

void Session::connectTo(std::uint32_t index) {
  const auto& pool = *pool_->config;
  leaveQueueCount();
  ++attempts_;
  backend_index_ = index;
  pool_->balancer->onConnectionOpened(index);
  connect_started_ns_ = io::monotonicNanos();
  auto connected = net::connectStream(pool.backends[index].address);
  if (!connected) {
    if (net::isLocalShortage(connected.error().code)) {
      // Out of descriptors or memory here: no other backend would do better, and the backend
      // is not to blame.
      releaseBackend();
      failed_backends_[attempts_ - 1] = balance::kNoBackend;
      logAllConnectsFailed(std::strerror(connected.error().code));
      finish(EndReason::kNoBackend);
      return;
    }
    onConnectFailed(connected.error().code);
    return;
  }
  backend_.fd = std::move(connected.value());
  backend_.readable = backend_.writable = backend_.peer_closed = false;
  auto added = env_.loop->add(backend_.fd.get(), kStreamEvents, &backend_);
  if (!added) {
    backend_.fd.reset();
    onConnectFailed(added.error().code);
    return;
  }
  env_.loop->timers().schedule(this, env_.loop->now() + pool.connect_timeout.count());
}

std::uint32_t Session::pickBackend(bool& saw_full) {
  const auto& pool = *pool_->config;
  balance::PickRequest request;
  request.flow_hash = balance::hashClient(&client_address_.addr.sa, pool.hash_key);
  request.exclude = std::span<const std::uint32_t>(failed_backends_.data(), attempts_);
  std::uint32_t index = pool_->balancer->pick(request);
  if (index == balance::kNoBackend || pool_->slots == nullptr || pool_->slots->tryAcquire(index)) {
    return index;
  }
  // Full backends are skipped like failed ones, without counting as attempts.
  auto& exclude = pool_->exclude;
  exclude.assign(failed_backends_.begin(), failed_backends_.begin() + attempts_);
  while (index != balance::kNoBackend) {
    saw_full = true;
    exclude.push_back(index);
    request.exclude = exclude;
    index = pool_->balancer->pick(request);
    if (index != balance::kNoBackend && pool_->slots->tryAcquire(index)) return index;
  }
  return balance::kNoBackend;
}

void Session::releaseBackend() {
  pool_->balancer->onConnectionClosed(backend_index_);
  if (pool_->slots != nullptr) pool_->slots->release(backend_index_);
  backend_index_ = balance::kNoBackend;
}

void Session::retryFromQueue() {
  if (state_ != State::kQueued) return;
  pool_->queue.unlink(this);
  env_.loop->timers().cancel(this);
  state_ = State::kConnecting;
  connectNext();
}

void Session::onConnectFailed(int error) {
  env_.stats->connect_failures.add();
  // Passive health: this worker's consecutive failures of a backend may eject it.
  if (pool_->health) (void)pool_->health->onOutcome(backend_index_, false, env_.loop->now());
  failed_backends_[attempts_ - 1] = backend_index_;
  failed_errors_[attempts_ - 1] = static_cast<std::uint8_t>(std::min(error, 255));
  releaseBackend();
  if (backend_.fd) {
    env_.loop->remove(backend_.fd.get());
    backend_.fd.reset();
  }
  if ((pool_->config->retry_on & config::kRetryConnFailure) == 0) {
    logAllConnectsFailed(nullptr);
    finish(EndReason::kNoBackend);
    return;
  }
  // Connecting again from inside the failed attempt's callback is safe: the new descriptor gets
  // its own registration, and stale events for the old one were dropped with it.
  connectNext();
}

bool Session::onEndedBeforeAnswer(int error) {
  if ((pool_->config->retry_on & config::kRetryEmptyResponse) == 0) return false;
  return retryElsewhere(error == 0 ? ENODATA : error);
}

bool Session::retryElsewhere(int error) {
  if (attempts_ >= maxAttempts()) return false;
  const std::uint32_t left = backend_index_;
  failed_backends_[attempts_ - 1] = left;
  failed_errors_[attempts_ - 1] = static_cast<std::uint8_t>(std::min(error, 255));
  bool saw_full = false;
  const std::uint32_t replacement = pickBackend(saw_full);
  if (replacement == balance::kNoBackend) {
    failed_backends_[attempts_ - 1] = balance::kNoBackend;
    return false;
  }
  env_.stats->retried.add();
  base::logDebug("listener \"{}\": backend {} ended before answering ({}); trying {}",
                 listener_.name, pool_->config->backends[left].name, std::strerror(error),
                 pool_->config->backends[replacement].name);
  if (pool_->health) (void)pool_->health->onOutcome(left, false, env_.loop->now());
  env_.loop->timers().cancel(this);
  env_.loop->remove(backend_.fd.get());
  net::setResetOnClose(backend_.fd.get());
  backend_.fd.reset();
  releaseBackend();
  // Nothing of the old backend reached the client but the SSLRequest answers, which the new
  // one will repeat.
  downstream_.buffer.reset();
  downstream_.offset = downstream_.length = 0;
  downstream_.bytes = 0;
  downstream_.source_eof = downstream_.shut_down = false;
  downstream_.full_reads = 0;
  negotiations_to_skip_ = negotiations_seen_;
  // Everything retained goes again, and the client's EOF after it, if it came.
  upstream_.offset = 0;
  upstream_.shut_down = false;
  state_ = State::kConnecting;
  connectTo(replacement);
  return true;
}

bool Session::onFirstAnswer(std::uint32_t length, bool& forward) {
  forward = true;
  const auto verdict = proto::classifyFirstReply(
      greeting_, std::span<const std::uint8_t>(
                     reinterpret_cast<const std::uint8_t*>(downstream_.buffer.data()), length));
  if (verdict == proto::FirstReply::kNegotiation) {
    if (negotiations_to_skip_ > 0) {
      --negotiations_to_skip_;  // the client has this answer from the backend before
      forward = false;
      resend_after_answer_ = true;  // the next retained bytes may go now
    } else {
      ++negotiations_seen_;
    }
    return true;
  }
  if (negotiations_to_skip_ > 0) {
    // The replacement answered the SSLRequest differently; the client is past that point.
    finish(EndReason::kBackendReset);
    return false;
  }
  if (verdict == proto::FirstReply::kRefused &&
      (pool_->config->retry_on & config::kRetryRefusedGreeting) != 0 && retryElsewhere(EPROTO)) {
    return false;
  }
  // Answered (or refused with nowhere else to go: the client gets the refusal as it was).
  replayable_ = false;
  if (upstream_.offset == upstream_.length) upstream_.offset = upstream_.length = 0;
  return true;
}

void Session::logAllConnectsFailed(const char* local_error) const {
  std::uint64_t suppressed = 0;
  if (!env_.failure_log->allow(env_.loop->now(), suppressed)) return;
  std::string reasons;
  for (std::uint32_t i = 0; i < attempts_ && i < kMaxRecordedFailures; ++i) {
    if (failed_backends_[i] == balance::kNoBackend) continue;
    if (!reasons.empty()) reasons += ", ";
    reasons += pool_->config->backends[failed_backends_[i]].name;
    reasons += " (";
    reasons += std::strerror(failed_errors_[i]);
    reasons += ")";
  }
  if (local_error != nullptr) {
    if (!reasons.empty()) reasons += ", then ";
    reasons += "no socket for the next attempt (";
    reasons += local_error;
    reasons += ")";
  }
  if (reasons.empty()) reasons = "no backend is up";
  std::string client = net::formatSockaddr(&client_address_.addr.sa, client_address_.len);
  std::string held_back =
      suppressed == 0 ? "" : fmt::format(" ({} similar lines suppressed)", suppressed);
  base::logWarn("listener \"{}\" client {}: no backend of pool \"{}\" could be connected: {}{}",
                listener_.name, client, pool_->config->name, reasons, held_back);
}

void Session::onClientEvents(std::uint32_t events) {
  if (state_ == State::kClosed) return;
  if ((events & EPOLLERR) != 0) {
    finish(EndReason::kClientReset);
    return;
  }
  client_.noteReadiness(events);
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
      error = net::socketError(backend_.fd.get());
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
    if (replayable_ && onEndedBeforeAnswer(net::socketError(backend_.fd.get()))) return;
    finish(EndReason::kBackendReset);
    return;
  }
  backend_.noteReadiness(events);
  pump();
}

void Session::onConnected() {
  state_ = State::kProxying;
  backend_.writable = true;
  backend_counters_ = &pool_->balancer->counters(backend_index_);
  const std::int64_t took_ns = io::monotonicNanos() - connect_started_ns_;
  backend_counters_->observeConnect(static_cast<std::uint64_t>(std::max<std::int64_t>(took_ns, 0)) /
                                    1000);
  if (!preamble_counted_) {
    // What the preamble read (the PROXY header taken off) goes to the first backend.
    preamble_counted_ = true;
    countRelayed(/*from_client=*/true, upstream_.bytes);
  }
  last_activity_ms_ = env_.loop->now();
  env_.loop->timers().schedule(this, last_activity_ms_ + listener_.idle_timeout.count());
  if (pool_->config->send_proxy != config::SendProxy::kOff && !proxy_header_queued_) {
    queueProxyHeader();
    proxy_header_queued_ = true;
  }
  base::logDebug("listener \"{}\": connected to backend {}", listener_.name,
                 pool_->config->backends[backend_index_].name);
}

// The PROXY header goes first into the client-to-backend buffer, before the bytes the preamble
// left there (kPreambleLimit keeps room for it), so relay() sends it before any client byte, in
// one send when the socket takes it.
void Session::queueProxyHeader() {
  // The address the client connected to: as a received PROXY header says, or the listener's as
  // the client saw it (not a wildcard bind address).
  sockaddr_storage local{};
  socklen_t local_len = sizeof(local);
  if (received_proxy_ && received_proxy_->destination_len != 0) {
    local = received_proxy_->destination;
    local_len = received_proxy_->destination_len;
  } else if (::getsockname(client_.fd.get(), reinterpret_cast<sockaddr*>(&local), &local_len) !=
             0) {
    local_len = 0;
  }
  sockaddr_storage peer{};
  socklen_t peer_len = 0;
  if (client_address_.len >= sizeof(sa_family_t)) {
    std::memcpy(&peer, &client_address_.addr,
                std::min<socklen_t>(client_address_.len, sizeof(client_address_.addr)));
    peer_len = client_address_.len;
  }
  if (peer.ss_family == AF_UNIX) {
    // ClientAddress has no room for a Unix path: ask the socket (usually unnamed, 2 bytes).
    peer_len = sizeof(peer);
    if (::getpeername(client_.fd.get(), reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) {
      peer_len = 0;
    }
  }
  const auto* source = peer_len == 0 ? nullptr : reinterpret_cast<const sockaddr*>(&peer);
  const auto* destination = local_len == 0 ? nullptr : reinterpret_cast<const sockaddr*>(&local);
  const std::string_view tlvs = received_proxy_ ? received_proxy_->tlvs : std::string_view();
  const std::string header = pool_->config->send_proxy == config::SendProxy::kV1
                                 ? proto::encodeProxyV1(source, destination)
                                 : proto::encodeProxyV2(source, peer_len, destination, local_len,
                                                        proto::ProxyTransport::kStream, tlvs);
  // At most 16 + 216 + kMaxPassedTlvBytes: fits in front of what the preamble left.
  if (!upstream_.buffer) upstream_.buffer = env_.buffers->acquire();
  char* data = upstream_.buffer.data();
  std::memmove(data + header.size(), data + upstream_.offset, upstream_.length - upstream_.offset);
  std::memcpy(data, header.data(), header.size());
  upstream_.length =
      upstream_.length - upstream_.offset + static_cast<std::uint32_t>(header.size());
  upstream_.offset = 0;
  proxy_header_bytes_ = static_cast<std::uint16_t>(header.size());
}

std::uint32_t Session::replayLimit() const {
  if (negotiations_to_skip_ == 0) return 0;
  constexpr std::uint32_t kNegotiationRequestBytes = 8;  // SSLRequest, GSSENCRequest
  const auto answered = static_cast<std::uint32_t>(negotiations_seen_ - negotiations_to_skip_);
  return proxy_header_bytes_ + kNegotiationRequestBytes * (answered + 1);
}

void Session::countRelayed(bool from_client, std::uint64_t n) {
  if (from_client) {
    listener_counters_.bytes_from_clients.add(n);
    if (backend_counters_ != nullptr) backend_counters_->bytes_to_backend.add(n);
  } else {
    listener_counters_.bytes_from_backends.add(n);
    if (backend_counters_ != nullptr) backend_counters_->bytes_from_backend.add(n);
  }
}

void Session::pump() {
  if (!relay(upstream_, client_, backend_)) return;
  if (!relay(downstream_, backend_, client_)) return;
  if (resend_after_answer_) {
    resend_after_answer_ = false;
    if (!relay(upstream_, client_, backend_)) return;
  }
  if (upstream_.shut_down && downstream_.shut_down) finish(EndReason::kCompleted);
}

bool Session::relay(Direction& direction, Side& source, Side& destination) {
  const bool source_is_client = &source == &client_;
  while (true) {
    // Until the backend answers, what went to it is kept for a replay (see the class comment).
    const bool retaining = replayable_ && source_is_client;
    if (direction.offset < direction.length) {
      if (!destination.writable) return true;
      std::uint32_t end = direction.length;
      if (retaining && replayLimit() != 0) {
        end = std::min(end, replayLimit());
        if (direction.offset >= end) return true;  // the rest waits for the backend's answer
      }
      ssize_t sent = ::send(destination.fd.get(), direction.buffer.data() + direction.offset,
                            end - direction.offset, MSG_NOSIGNAL);
      if (sent < 0) {
        if (isTransient(errno)) {
          if (errno != EINTR) destination.writable = false;
          if (errno == EINTR) continue;
          return true;  // backpressure: the source is not read until this drains
        }
        if (retaining && onEndedBeforeAnswer(errno)) return false;
        finish(source_is_client ? EndReason::kBackendReset : EndReason::kClientReset);
        return false;
      }
      direction.offset += static_cast<std::uint32_t>(sent);
      if (direction.offset == direction.length) {
        if (!retaining) direction.offset = direction.length = 0;
      } else if (direction.offset < end) {
        // A partial send means the socket buffer is full: wait for EPOLLOUT instead of asking
        // again only to hear EAGAIN.
        destination.writable = false;
      }
      continue;
    }
    if (direction.splicing) {
      direction.buffer.reset();
      return splice(direction, source, destination);
    }
    if (direction.source_eof) {
      endDirection(direction, destination);
      return true;
    }
    if (!source.readable) {
      if (!retaining) direction.buffer.reset();  // idle: the buffer goes back to the pool
      return true;
    }
    if (retaining && direction.length == BufferPool::kBufferSize) {
      // No room to keep more: from here on the bytes flow as usual, and cannot be replayed.
      replayable_ = false;
      direction.offset = direction.length = 0;
      continue;
    }
    if (!direction.buffer) direction.buffer = env_.buffers->acquire();
    const std::uint32_t start = retaining ? direction.length : 0;
    const std::size_t room = BufferPool::kBufferSize - start;
    ssize_t received = ::recv(source.fd.get(), direction.buffer.data() + start, room, 0);
    if (received > 0 && replayable_ && !source_is_client) {
      bool forward = true;
      if (!onFirstAnswer(static_cast<std::uint32_t>(received), forward)) return false;
      if (!forward) continue;
    }
    if (received > 0) {
      direction.length = start + static_cast<std::uint32_t>(received);
      direction.offset = start;
      direction.bytes += static_cast<std::uint64_t>(received);
      countRelayed(source_is_client, static_cast<std::uint64_t>(received));
      last_activity_ms_ = env_.loop->now();
      if (retaining || static_cast<std::size_t>(received) < BufferPool::kBufferSize) {
        direction.full_reads = 0;
      } else if (++direction.full_reads >= kBulkReads && env_.pipes != nullptr) {
        direction.splicing = true;  // from the next read on, once this buffer is sent
        env_.stats->spliced.add();
      }
      // A short read drained the socket: edge-triggered epoll reports the next arrival, so
      // skip the recv that would only say EAGAIN. Not after RDHUP: the EOF must still be read.
      if (static_cast<std::size_t>(received) < room && !source.peer_closed) {
        source.readable = false;
      }
      continue;
    }
    if (received == 0) {
      if (replayable_ && !source_is_client && onEndedBeforeAnswer(0)) return false;
      direction.source_eof = true;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      source.readable = false;
      continue;
    }
    if (replayable_ && !source_is_client && onEndedBeforeAnswer(errno)) return false;
    finish(source_is_client ? EndReason::kClientReset : EndReason::kBackendReset);
    return false;
  }
}

bool Session::splice(Direction& direction, Side& source, Side& destination) {
  const bool source_is_client = &source == &client_;
  constexpr unsigned kFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
  while (true) {
    if (direction.piped > 0) {
      if (!destination.writable) return true;
      ssize_t sent = ::splice(direction.pipe.readEnd(), nullptr, destination.fd.get(), nullptr,
                              direction.piped, kFlags);
      if (sent < 0) {
        if (errno == EINTR) continue;
        if (isTransient(errno)) {
          destination.writable = false;
          return true;  // backpressure: the source is not read until the pipe drains
        }
        finish(source_is_client ? EndReason::kBackendReset : EndReason::kClientReset);
        return false;
      }
      // A partial splice may leave room (pipe buffers move whole): ask again rather than wait
      // for an EPOLLOUT that may not come.
      direction.piped -= static_cast<std::uint32_t>(sent);
      continue;
    }
    if (direction.source_eof) {
      direction.pipe.reset(true);
      endDirection(direction, destination);
      return true;
    }
    if (!source.readable) {
      direction.pipe.reset(true);  // idle: the pipe goes back to the pool
      return true;
    }
    if (!direction.pipe && env_.pipes == nullptr) {
      // A pipe handed over by a binary upgrade is drained, and splice is off here.
      direction.splicing = false;
      direction.full_reads = 0;
      return relay(direction, source, destination);
    }
    if (!direction.pipe) {
      direction.pipe = env_.pipes->acquire();
      if (!direction.pipe) {
        // No descriptors for a pipe: this direction copies through buffers again.
        direction.splicing = false;
        direction.full_reads = 0;
        return relay(direction, source, destination);
      }
    }
    // The pipe is empty here, so EAGAIN can only mean the socket is drained.
    ssize_t received = ::splice(source.fd.get(), nullptr, direction.pipe.writeEnd(), nullptr,
                                PipePool::kPipeBytes, kFlags);
    if (received > 0) {
      direction.piped = static_cast<std::uint32_t>(received);
      direction.bytes += static_cast<std::uint64_t>(received);
      countRelayed(source_is_client, static_cast<std::uint64_t>(received));
      last_activity_ms_ = env_.loop->now();
      continue;
    }
    if (received == 0) {
      direction.source_eof = true;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      source.readable = false;
      continue;
    }
    finish(source_is_client ? EndReason::kClientReset : EndReason::kBackendReset);
    return false;
  }
}

void Session::endDirection(Direction& direction, Side& destination) {
  // Retained bytes stay for a replay; a replay repeats this shutdown after them.
  if (!(replayable_ && &direction == &upstream_)) direction.buffer.reset();
  if (direction.shut_down) return;
  // When the other direction is already finished, the close that follows sends this FIN
  // (nothing is left unread on either socket, so it is a FIN, not a reset).
  const Direction& other = &direction == &upstream_ ? downstream_ : upstream_;
  if (!other.shut_down) ::shutdown(destination.fd.get(), SHUT_WR);
  direction.shut_down = true;
}

void Session::onTimer() {
  if (state_ == State::kInspecting) {
    if (proxy_pending_) {
      endPreamble(EndReason::kProxyTimeout, "no whole PROXY header within proxy_timeout", "");
    } else {
      endPreamble(EndReason::kInspectTimeout, "no whole ClientHello within inspect_timeout", "");
    }
    return;
  }
  if (state_ == State::kConnecting) {
    onConnectFailed(ETIMEDOUT);
    return;
  }
  if (state_ == State::kQueued) {
    finish(EndReason::kQueueTimeout);
    return;
  }
  if (state_ != State::kProxying) return;
  std::int64_t deadline = last_activity_ms_ + listener_.idle_timeout.count();
  if (env_.loop->now() >= deadline) {
    finish(EndReason::kIdleTimeout);
  } else {
    env_.loop->timers().schedule(this, deadline);
  }
}

void Session::abort(EndReason reason) { finish(reason); }

void Session::finish(EndReason reason) {
  if (state_ == State::kClosed) return;
  // Passive health: a reset from the backend counts against it like a failed connect; any other
  // end of a connected session counts for it. (Not at connect time: a backend that accepts and
  // then resets every connection must still be ejected.)
  if (state_ == State::kProxying && pool_->health && backend_index_ != balance::kNoBackend) {
    (void)pool_->health->onOutcome(backend_index_, reason != EndReason::kBackendReset,
                                   env_.loop->now());
  }
  if (state_ == State::kQueued) pool_->queue.unlink(this);
  leaveQueueCount();
  state_ = State::kClosed;
  env_.loop->timers().cancel(this);
  // A reset, a timeout or a forced shutdown is passed on as a reset: a FIN would tell the other
  // side the data ended cleanly when it did not.
  if (reason != EndReason::kCompleted) {
    if (client_.fd) net::setResetOnClose(client_.fd.get());
    if (backend_.fd) net::setResetOnClose(backend_.fd.get());
  }
  client_.fd.reset();
  backend_.fd.reset();
  upstream_.buffer.reset();
  downstream_.buffer.reset();
  upstream_.pipe.reset(upstream_.piped == 0);
  downstream_.pipe.reset(downstream_.piped == 0);
  if (backend_index_ != balance::kNoBackend) {
    // Keep the index for the access log: releaseBackend() forgets it.
    const std::uint32_t backend = backend_index_;
    releaseBackend();
    backend_index_ = backend;
  }
  countEnd(reason);
  env_.stats->bytes_from_clients.add(upstream_.bytes);
  env_.stats->bytes_from_backends.add(downstream_.bytes);
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
  if (backend_index_ != balance::kNoBackend) {
    record.backend = pool_->config->backends[backend_index_].name;
  }
  record.bytes_in = upstream_.bytes;
  record.bytes_out = downstream_.bytes;
  record.duration_ms = env_.loop->now() - started_ms_;
  record.attempts = attempts_;
  record.end = reason;
  env_.access_log->write(record);
}

}  // namespace l4lb::proxy
