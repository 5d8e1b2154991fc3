#include "worker/worker.h"

#include <fcntl.h>
#include <fmt/format.h>

#include <algorithm>

#include "balance/maglev.h"
#include "base/log.h"
#include "net/socket.h"
#include "proxy/access_control.h"

namespace l4lb::worker {

namespace {

// How soon queued sessions look for backend slots freed on other workers.
constexpr std::int64_t kQueueRecheckMs = 10;

}  // namespace

Worker::Worker(std::uint32_t id, std::shared_ptr<const ServingConfig> serving,
               const proxy::AccessLog& access_log)
    : id_(id), access_log_(access_log) {
  // The first generation is built in init(), once the loop exists; until then it holds only
  // the config.
  auto first = std::make_shared<Generation>();
  first->serving = std::move(serving);
  generations_.push_back(std::move(first));
}

Worker::~Worker() {
  join();
  if (loop_) {
    loop_->timers().cancel(&health_ticker_);
    loop_->timers().cancel(&queue_ticker_);
  }
  // Sessions unregister from the loop and its timers as they go, so they go first.
  while (!sessions_.empty()) delete sessions_.unlink(sessions_.head());
  acceptors_.clear();
  retired_acceptors_.clear();
  datagram_listeners_.clear();
  retired_datagram_listeners_.clear();
}

base::Result<void> Worker::init() {
  auto loop = io::EventLoop::create();
  if (!loop) return loop.error();
  loop_ = std::move(loop.value());
  std::shared_ptr<const ServingConfig> serving = current().serving;
  const auto& config = serving->config;
  loop_->setBusyPoll(std::chrono::microseconds(config.global.busy_poll_us));
  env_ = proxy::SessionEnv{.loop = loop_.get(),
                           .buffers = &buffers_,
                           .pipes = config.global.splice ? &pipes_ : nullptr,
                           .stats = &stats_,
                           .access_log = &access_log_,
                           .failure_log = &failure_log_};
  generations_.back() = makeGeneration(serving, nullptr);
  published_.store(generations_.back());
  health_ticker_.worker = this;
  queue_ticker_.worker = this;
  settler_.worker = this;
  scheduleHealthTicks();

  for (std::uint32_t i = 0; i < config.listeners.size(); ++i) {
    std::vector<base::Fd> taken;
    if (i < taken_sockets_.size()) taken = std::move(taken_sockets_[i]);
    const auto& listener = config.listeners[i];
    if (auto opened = openListener(i, std::move(taken)); !opened) {
      return opened.error().within(
          fmt::format("listener \"{}\" ({})", listener.name, listener.bind.url));
    }
  }
  return {};
}

base::Result<void> Worker::openListener(std::uint32_t index, std::vector<base::Fd> taken) {
  const auto& listener = current().config().listeners[index];
  // The packet path (forward = "dsr" | "ipip"): the XDP program serves it, no socket is bound.
  if (listener.packetPath()) return {};
  if (listener.isDatagram()) {
    base::Fd first = taken.empty() ? base::Fd() : std::move(taken[0]);
    if (auto opened = openDatagramListener(index, std::move(first)); !opened) return opened;
    // A worker of the new process with more than one socket of the old (fewer workers now):
    // each is served, or the flows the kernel hashes to it would be stranded.
    for (std::size_t extra = 1; extra < taken.size(); ++extra) {
      if (auto opened = openDatagramListener(index, std::move(taken[extra])); !opened) {
        return opened;
      }
    }
    return {};
  }
  if (!taken.empty()) {
    for (auto& socket : taken) {
      if (auto added = addAcceptor(index, std::move(socket)); !added) return added;
    }
    return {};
  }
  // The supervisor binds every tcp:// socket (app/listener_sockets.h), after making sure no
  // other process listens there; a worker binds none of its own.
  if (current().serving->sharedFd(index) < 0) return base::failure("no socket was bound for it");
  return addAcceptor(index, base::Fd());
}

base::Result<void> Worker::addAcceptor(std::uint32_t index, base::Fd owned) {
  auto acceptor = std::make_unique<Acceptor>(*this, index, std::move(owned),
                                             current().serving->sharedFd(index));
  if (auto armed = acceptor->arm(); !armed) return armed;
  acceptors_.push_back(std::move(acceptor));
  return {};
}

base::Result<void> Worker::openDatagramListener(std::uint32_t index, base::Fd taken) {
  const auto& listener = current().config().listeners[index];
  // A socket the service manager passed is one socket: worker 0 serves it, as unixgram://.
  const int passed = taken ? -1 : current().serving->sharedFd(index);
  const bool per_worker = listener.bind.kind == net::EndpointKind::kUdp && passed < 0;
  if (!per_worker && id_ != 0 && !taken) return {};
  base::Fd passed_copy;
  if (passed >= 0) {
    // The listener closes its descriptor when it stops; the config keeps the passed one.
    passed_copy.reset(::fcntl(passed, F_DUPFD_CLOEXEC, 0));
    if (!passed_copy) return base::lastError("fcntl(F_DUPFD_CLOEXEC)");
  }
  if (!datagram_buffers_) datagram_buffers_ = std::make_unique<proxy::DatagramBuffers>();
  proxy::DatagramEnv env{loop_.get(), datagram_buffers_.get(), &datagram_stats_, &access_log_,
                         &datagram_failure_log_};
  auto datagram = std::make_unique<proxy::DatagramListener>(env, listener,
                                                            current().pools[listener.pool_index]);
  auto opened =
      taken ? datagram->openTakenOver(std::move(taken))
            : datagram->open(/*reuse_port=*/per_worker, worker_count_, std::move(passed_copy));
  if (!opened) return opened;
  datagram_listeners_.push_back(std::move(datagram));
  return {};
}

std::string_view Worker::listenerName(std::uint32_t index) const {
  return current().config().listeners[index].name;
}

void Worker::start() {
  thread_ = std::thread([this] { run(); });
}

void Worker::run() {
  loop_->run();
  finished_.store(true, std::memory_order_release);
}

void Worker::join() {
  if (thread_.joinable()) thread_.join();
}

void Worker::drain() {
  loop_->post([this] {
    draining_ = true;
    for (auto& acceptor : acceptors_) acceptor->close();
    // Datagram flows are not waited for: a flow has no end the client would see, and the
    // listener's socket (the only way back to clients) closes now.
    for (auto& datagram : datagram_listeners_) datagram->close();
    stopIfDrained();
  });
}

void Worker::abortAll() {
  loop_->post([this] {
    while (!sessions_.empty()) sessions_.head()->abort(proxy::EndReason::kShutdown);
    stopIfDrained();
  });
}

void Worker::stopIfDrained() {
  if (draining_ && sessions_.empty()) {
    loop_->timers().cancel(&health_ticker_);
    loop_->timers().cancel(&queue_ticker_);
    loop_->stop();
  }
}

void Worker::onAccepted(std::uint32_t listener_index, base::Fd client,
                        const proxy::ClientAddress& address) {
  stats_.accepted.add();
  Generation& generation = current();
  const auto& listener = generation.config().listeners[listener_index];
  proxy::ListenerCounters& counters = *generation.listener_counters[listener_index];
  counters.accepted.add();
  bool counted = false;
  if (listener.proxy_accept) {
    // Only a trusted proxy may name another client; who that client is, and whether it is let
    // in, is decided once its header has arrived (admitClient).
    if (!listener.proxy_trusted.contains(&address.addr.sa, address.len)) {
      countRefusal(Refusal::kProxyUntrusted, counters);
      refuse(listener_index, std::move(client));
      return;
    }
  } else if (!admit(generation, listener, counters, address, counted)) {
    refuse(listener_index, std::move(client));
    return;
  }
  auto* session =
      new proxy::Session(env_, this, listener, *generation.listener_counters[listener_index],
                         generation.pools[listener.pool_index], std::move(client), address);
  session->source_admitted = counted;
  session->scope = &generation;
  ++generation.sessions;
  sessions_.pushFront(session);
  session->id = proxy::sessionId(id_, ++session_sequence_);
  session->start();
}

bool Worker::admit(Generation& generation, const config::ListenerConfig& listener,
                   proxy::ListenerCounters& counters, const proxy::ClientAddress& address,
                   bool& counted) {
  if (!proxy::clientAllowed(listener, &address.addr.sa, address.len)) {
    countRefusal(Refusal::kAcl, counters);
    return false;
  }
  auto& limiter = generation.source_limiters[listener.index];
  proxy::SourceKey key;
  if (!limiter || !proxy::SourceKey::from(address, key)) return true;
  const auto verdict = limiter->admit(key, loop_->now());
  if (verdict == proxy::SourceLimiter::Verdict::kAdmitted) {
    counted = true;
    return true;
  }
  countRefusal(verdict == proxy::SourceLimiter::Verdict::kTooManyConnections
                   ? Refusal::kSourceConnections
                   : Refusal::kSourceRate,
               counters);
  return false;
}

bool Worker::admitClient(proxy::Session& session) {
  // A session admitted after its PROXY header may have waited through a reload: its own
  // generation's limiter counts it.
  bool counted = false;
  if (!admit(*static_cast<Generation*>(session.scope), session.listener(),
             session.listenerCounters(), session.clientAddress(), counted)) {
    return false;
  }
  session.source_admitted = counted;
  return true;
}

void Worker::countRefusal(Refusal why, proxy::ListenerCounters& counters) {
  switch (why) {
    case Refusal::kAcl:
      stats_.refused_acl.add();
      counters.refused_acl.add();
      return;
    case Refusal::kSourceConnections:
      stats_.refused_source_connections.add();
      counters.refused_source_connections.add();
      return;
    case Refusal::kSourceRate:
      stats_.refused_source_rate.add();
      counters.refused_source_rate.add();
      return;
    case Refusal::kProxyUntrusted:
      stats_.refused_proxy_untrusted.add();
      counters.refused_proxy_untrusted.add();
      return;
  }
}

void Worker::onSessionQueued() {
  if (!queue_ticker_.scheduled()) {
    loop_->timers().schedule(&queue_ticker_, loop_->now() + kQueueRecheckMs);
  }
}

proxy::PoolState& Worker::poolAt(std::uint32_t index) { return current().pools[index]; }

void Worker::wakeQueued(proxy::PoolState& pool) {
  // Each session tried at most once: one that queues again goes to the back, and ends the round.
  for (std::size_t n = pool.queue.size(); n > 0 && !pool.queue.empty(); --n) {
    proxy::Session* first = pool.queue.front();
    first->retryFromQueue();
    if (pool.queue.size() > 0 && first->queue_links.queued) break;  // still no room
  }
}

void Worker::settle() {
  if (room_freed_) {
    room_freed_ = false;
    for (auto& acceptor : acceptors_) acceptor->onRoom();
  }
  for (auto& generation : generations_) {
    for (auto& pool : generation->pools) {
      if (!pool.wake_queue) continue;
      pool.wake_queue = false;
      wakeQueued(pool);
    }
  }
}

void Worker::checkQueues() {
  bool waiting = false;
  for (auto& generation : generations_) {
    for (auto& pool : generation->pools) {
      if (pool.queue.empty()) continue;
      wakeQueued(pool);
      waiting |= !pool.queue.empty();
    }
  }
  if (waiting) loop_->timers().schedule(&queue_ticker_, loop_->now() + kQueueRecheckMs);
}

void Worker::refuse(std::uint32_t listener_index, base::Fd client) {
  // Refused before any backend is contacted; a reset frees everything at once.
  net::setResetOnClose(client.get());
  client.reset();
  ConnectionLimits* limits = connectionLimits();
  if (limits != nullptr && limits->limits(listener_index)) limits->release(listener_index);
}

void Worker::onSessionEnded(proxy::Session* session) {
  auto* generation = static_cast<Generation*>(session->scope);
  const std::uint32_t listener = session->listener().index;
  proxy::PoolState& pool = session->pool();
  if (auto& limiter = generation->source_limiters[listener]; limiter && session->source_admitted) {
    proxy::SourceKey key;
    if (proxy::SourceKey::from(session->clientAddress(), key)) limiter->release(key, loop_->now());
  }
  ConnectionLimits* limits = generation->serving->limits.get();
  if (limits != nullptr && limits->limits(listener)) {
    limits->release(listener);
    room_freed_ = true;
    loop_->runAfterBatch(&settler_);
  }
  loop_->deferDelete(std::unique_ptr<io::Deferred>(sessions_.unlink(session)));
  if (pool.slots != nullptr && !pool.queue.empty()) {
    pool.wake_queue = true;
    loop_->runAfterBatch(&settler_);
  }
  --generation->sessions;
  // The generation's pools must outlive the deferred delete of its last session, which runs
  // after this callback: dropping it is left to the next reload or a later session end.
  if (generation != &current() && generation->sessions == 0) {
    loop_->post([this] { dropIdleGenerations(); });
  }
  stopIfDrained();
}

}  // namespace l4lb::worker
