#include "proxy/datagram_listener.h"

#include <fcntl.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>

#include "base/log.h"
#include "net/datagram_socket.h"
#include "net/endpoint.h"
#include "net/message_queue.h"
#include "net/socket.h"
#include "net/source_steering.h"

namespace l4lb::proxy {

DatagramListener::DatagramListener(const DatagramEnv& env, const config::ListenerConfig& listener,
                                   PoolState& pool)
    : env_(env),
      listener_(&listener),
      pool_(&pool),
      table_(listener.max_flows),
      is_queue_(listener.bind.kind == net::EndpointKind::kMessageQueue) {
  queues_.resize(pool.config->backends.size());
}

DatagramListener::~DatagramListener() { close(); }

base::Result<void> DatagramListener::open(bool reuse_port, std::uint32_t workers, base::Fd passed) {
  const bool was_passed = passed.valid();
  if (is_queue_) {
    auto queue = net::openMessageQueue(listener_->bind, /*for_reading=*/true, listener_->mq);
    if (!queue) return queue.error();
    auto size = net::messageQueueMessageSize(queue.value().get());
    if (!size) return size.error();
    // A queue that existed before may have a larger message size than a receive slot; reading
    // it would fail on every message.
    if (size.value() > static_cast<long>(DatagramBuffers::kSlotSize)) {
      return base::sysError(EMSGSIZE, "mq_open (the existing queue's message size is over 65536)");
    }
    fd_ = std::move(queue.value());
  } else {
    if (passed) {
      fd_ = std::move(passed);
    } else {
      auto bound = net::bindDatagram(listener_->bind, reuse_port, listener_->socket_file);
      if (!bound) return bound.error();
      fd_ = std::move(bound.value());
    }
    if (listener_->per_source_max_flows > 0) {
      source_limiter_ = std::make_unique<SourceLimiter>(
          SourceLimiter::Limits{.max_connections = listener_->per_source_max_flows, .rate = {}});
      // Each client address to one worker, so its flows are counted in one table.
      if (reuse_port) {
        auto steered = net::steerBySource(fd_.get(), workers);
        if (!steered) return steered.error();
      }
    }
    const auto* sun = reinterpret_cast<const sockaddr_un*>(&listener_->bind.addr);
    // A passed socket's path belongs to the service manager, which made it.
    unlink_path_ = !was_passed && listener_->bind.family() == AF_UNIX && sun->sun_path[0] != '\0';
  }
  return watch();
}

base::Result<void> DatagramListener::openTakenOver(base::Fd socket) {
  fd_ = std::move(socket);
  if (listener_->per_source_max_flows > 0) {
    // The old process attached the steering program to the socket's group; it stays.
    source_limiter_ = std::make_unique<SourceLimiter>(
        SourceLimiter::Limits{.max_connections = listener_->per_source_max_flows, .rate = {}});
  }
  const auto* sun = reinterpret_cast<const sockaddr_un*>(&listener_->bind.addr);
  unlink_path_ = listener_->bind.family() == AF_UNIX && sun->sun_path[0] != '\0';
  return watch();
}

base::Result<void> DatagramListener::watch() {
  if (!is_queue_) socket_cookie_ = net::socketCookie(fd_.get());
  if (pool_->config->send_proxy == config::SendProxy::kV2 && !is_queue_) {
    // The bound address: with a wildcard bind the address each client used is not known
    // (that would take IP_PKTINFO per datagram), and the header says 0.0.0.0 or ::.
    local_len_ = sizeof(local_);
    if (::getsockname(fd_.get(), reinterpret_cast<sockaddr*>(&local_), &local_len_) != 0) {
      local_len_ = 0;
    }
  }
  return env_.loop->add(fd_.get(), EPOLLIN, this);
}

void DatagramListener::carryOver(const config::ListenerConfig& listener, PoolState& pool) {
  PoolState& old = *pool_;
  for (Flow* flow = table_.oldest(); flow != nullptr;
       flow = flow->lru_newer == kNoFlow ? nullptr : &table_.at(flow->lru_newer)) {
    flow->failed_count = 0;  // indexes of the old pool
    flow->attempts = 0;
    if (flow->backend == balance::kNoBackend) continue;
    const config::BackendConfig& was = old.config->backends[flow->backend];
    old.balancer->onConnectionClosed(flow->backend);
    std::uint32_t now = balance::kNoBackend;
    for (std::uint32_t b = 0; b < pool.config->backends.size(); ++b) {
      const config::BackendConfig& backend = pool.config->backends[b];
      if (backend.name == was.name && backend.address.url == was.address.url) now = b;
    }
    flow->backend = now;
    if (now != balance::kNoBackend && old.config->name == pool.config->name) {
      pool.balancer->onConnectionCarried(now);  // the same counters (worker.cc shares them)
    } else if (now != balance::kNoBackend) {
      pool.balancer->onConnectionOpened(now);
    } else if (flow->upstream) {
      env_.loop->remove(flow->upstream.get());
      flow->upstream.reset();
    }
  }
  // mq:// backends' queues are opened again on first use, at their new indexes.
  queues_.clear();
  queues_.resize(pool.config->backends.size());
  listener_ = &listener;
  pool_ = &pool;
}

base::Fd DatagramListener::duplicateSocket() const {
  if (!fd_ || is_queue_) return {};
  return base::Fd(::fcntl(fd_.get(), F_DUPFD_CLOEXEC, 0));
}

void DatagramListener::setReceiving(bool receiving) {
  if (!fd_ || receiving == receiving_) return;
  receiving_ = receiving;
  if (!receiving) {
    env_.loop->remove(fd_.get());
    return;
  }
  auto added = env_.loop->add(fd_.get(), EPOLLIN, this);
  if (!added) {
    base::logError("listener \"{}\": cannot watch its socket again: {}", listener_->name,
                   added.error().message());
  }
}

void DatagramListener::close() {
  if (fd_) {
    if (receiving_) env_.loop->remove(fd_.get());
    fd_.reset();
    if (unlink_path_ && net::ownsSocketPaths()) {
      ::unlink(reinterpret_cast<const sockaddr_un*>(&listener_->bind.addr)->sun_path);
      unlink_path_ = false;
    }
  }
  env_.loop->timers().cancel(this);
  while (Flow* flow = table_.oldest()) endFlow(*flow, FlowEnd::kShutdown);
}

void DatagramListener::onTimer() {
  const std::int64_t now = env_.loop->now();
  const std::int64_t idle = listener_->flow_idle_timeout.count();
  // The LRU tail is the flow idle longest: end flows from there until one is still fresh.
  while (Flow* flow = table_.oldest()) {
    if (flow->last_active_ms + idle > now) {
      env_.loop->timers().schedule(this, flow->last_active_ms + idle);
      return;
    }
    endFlow(*flow, FlowEnd::kIdleTimeout);
  }
}

void DatagramListener::endFlow(Flow& flow, FlowEnd reason) {
  // A flow that ran its course with no refusal from its backend: the backend took its datagrams
  // (the only sign of life a backend that never answers gives), which ends a probation.
  const bool ran_its_course = reason == FlowEnd::kIdleTimeout || reason == FlowEnd::kEvicted ||
                              reason == FlowEnd::kCompleted;
  if (ran_its_course && flow.backend != balance::kNoBackend && flow.upstream) {
    backendAnswered(flow.backend);
  }
  if (env_.access_log->enabled()) logFlow(flow, reason);
  releaseFlow(flow, reason);
}

void DatagramListener::releaseFlow(Flow& flow, FlowEnd reason) {
  env_.stats->endedBy(reason).add();
  env_.stats->flows_active.sub();
  if (flow.backend != balance::kNoBackend) pool_->balancer->onConnectionClosed(flow.backend);
  if (flow.upstream) env_.loop->remove(flow.upstream.get());
  if (source_limiter_) {
    SourceKey source;
    if (SourceKey::from(reinterpret_cast<const sockaddr*>(&flow.client.addr), flow.client.len,
                        source)) {
      source_limiter_->release(source, env_.loop->now());
    }
  }
  table_.erase(flow);
}

void DatagramListener::logFlow(const Flow& flow, FlowEnd reason) const {
  std::string client;
  if (flow.client.len == 0) {
    client = is_queue_ ? listener_->bind.url : "unix:unnamed";
  } else {
    client =
        net::formatSockaddr(reinterpret_cast<const sockaddr*>(&flow.client.addr), flow.client.len);
  }
  FlowRecord record;
  record.listener = listener_->name;
  record.client = client;
  if (flow.backend != balance::kNoBackend) {
    record.backend = pool_->config->backends[flow.backend].name;
  }
  record.datagrams_in = flow.requests;
  record.datagrams_out = flow.replies;
  record.bytes_in = flow.bytes_in;
  record.bytes_out = flow.bytes_out;
  record.duration_ms = env_.loop->now() - flow.started_ms;
  record.attempts = flow.attempts;
  record.end = reason;
  writeFlowRecord(*env_.access_log, record);
}

}  // namespace l4lb::proxy
