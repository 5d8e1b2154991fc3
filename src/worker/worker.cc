#include "worker/worker.h"

#include "balance/maglev.h"
#include "base/log.h"
#include "net/socket.h"
#include "net/source_steering.h"
#include "proxy/access_control.h"

namespace l4lb::worker {

namespace {

// Slow-start ramps move in steps this long; ejections end at most this late.
constexpr std::int64_t kHealthTickMs = 100;
// How soon queued sessions look for backend slots freed on other workers.
constexpr std::int64_t kQueueRecheckMs = 10;

}  // namespace

Worker::Worker(std::uint32_t id, std::shared_ptr<const proxy::Snapshot> snapshot,
               const proxy::AccessLog& access_log, const std::vector<int>& shared_listen_fds)
    : id_(id),
      snapshot_(std::move(snapshot)),
      access_log_(access_log),
      shared_listen_fds_(shared_listen_fds) {}

Worker::~Worker() {
  join();
  loop_->timers().cancel(&health_ticker_);
  loop_->timers().cancel(&queue_ticker_);
  // Sessions unregister from the loop and its timers as they go, so they go first.
  while (!sessions_.empty()) delete sessions_.unlink(sessions_.head());
  acceptors_.clear();
  datagram_listeners_.clear();
}

bool Worker::init(std::string& error) {
  auto loop = io::EventLoop::create();
  if (!loop) {
    error = loop.error().message();
    return false;
  }
  loop_ = std::move(loop.value());
  loop_->setBusyPoll(std::chrono::microseconds(snapshot_->config.global.busy_poll_us));
  env_ = proxy::SessionEnv{.loop = loop_.get(),
                           .buffers = &buffers_,
                           .pipes = snapshot_->config.global.splice ? &pipes_ : nullptr,
                           .stats = &stats_,
                           .access_log = &access_log_,
                           .failure_log = &failure_log_};

  const auto& config = snapshot_->config;
  pools_.reserve(config.pools.size());
  bool needs_ticks = false;
  for (std::size_t i = 0; i < config.pools.size(); ++i) {
    // Per-worker seeds keep random-two's choices independent between workers.
    std::uint64_t seed = 0x9e3779b97f4a7c15ULL * (id_ + 1) + i;
    const auto& pool = config.pools[i];
    proxy::PoolState state;
    state.config = &pool;
    state.balancer = snapshot_->plans[i]->instantiate(seed);
    balance::BackendHealth::Options options;
    options.pool = pool.name;
    options.eject_after = pool.eject_after;
    options.eject_for_ms = pool.eject_for.count();
    options.slow_start_ms = pool.slow_start.count();
    options.active_checks = pool.health.has_value();
    std::vector<std::string> names;
    for (const auto& backend : pool.backends) names.push_back(backend.name);
    state.health = std::make_unique<balance::BackendHealth>(std::move(options), *state.balancer,
                                                            std::move(names), loop_->now());
    if (state.health->needsTicks()) needs_ticks = true;
    if (backend_slots_ != nullptr) state.slots = (*backend_slots_)[i].get();
    pools_.push_back(std::move(state));
  }
  health_ticker_.worker = this;
  queue_ticker_.worker = this;
  if (needs_ticks) loop_->timers().schedule(&health_ticker_, loop_->now() + kHealthTickMs);

  source_limiters_.resize(config.listeners.size());
  for (std::uint32_t i = 0; i < config.listeners.size(); ++i) {
    const auto& listener = config.listeners[i];
    proxy::SourceLimiter::Limits source_limits{listener.per_source_max_connections,
                                               listener.per_source_rate};
    if (source_limits.any()) {
      source_limiters_[i] = std::make_unique<proxy::SourceLimiter>(source_limits);
    }
    if (listener.isDatagram()) {
      if (!openDatagramListener(i, error)) return false;
      continue;
    }
    base::Fd owned;
    if (shared_listen_fds_[i] < 0) {
      auto bound = net::listenStream(listener.bind,
                                     net::ListenOptions{listener.backlog, /*reuse_port=*/true});
      if (!bound) {
        error = "listener \"" + listener.name + "\" (" + listener.bind.url +
                "): " + bound.error().message();
        return false;
      }
      owned = std::move(bound.value());
      net::setNoDelay(owned.get(), listener.bind.family());  // inherited by accepted sockets
      if (source_limiters_[i]) {
        // Each client address to one worker, so per-source limits are counted exactly.
        auto steered = net::steerBySource(owned.get(), worker_count_);
        if (!steered) {
          error = "listener \"" + listener.name + "\": " + steered.error().message();
          return false;
        }
      }
    }
    auto acceptor = std::make_unique<Acceptor>(*this, i, std::move(owned), shared_listen_fds_[i]);
    auto armed = acceptor->arm();
    if (!armed) {
      error = "listener \"" + listener.name + "\": " + armed.error().message();
      return false;
    }
    acceptors_.push_back(std::move(acceptor));
  }
  return true;
}

bool Worker::openDatagramListener(std::uint32_t index, std::string& error) {
  const auto& listener = snapshot_->config.listeners[index];
  const bool per_worker = listener.bind.kind == net::EndpointKind::kUdp;
  if (!per_worker && id_ != 0) return true;
  if (!datagram_buffers_) datagram_buffers_ = std::make_unique<proxy::DatagramBuffers>();
  proxy::DatagramEnv env{loop_.get(), datagram_buffers_.get(), &datagram_stats_, &access_log_,
                         &datagram_failure_log_};
  auto datagram =
      std::make_unique<proxy::DatagramListener>(env, listener, pools_[listener.pool_index]);
  auto opened = datagram->open(/*reuse_port=*/per_worker, worker_count_);
  if (!opened) {
    error = "listener \"" + listener.name + "\" (" + listener.bind.url +
            "): " + opened.error().message();
    return false;
  }
  datagram_listeners_.push_back(std::move(datagram));
  return true;
}

std::string_view Worker::listenerName(std::uint32_t index) const {
  return snapshot_->config.listeners[index].name;
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

void Worker::applyHealth(std::shared_ptr<const health::HealthSnapshot> states) {
  const std::int64_t now = loop_->now();
  for (std::size_t p = 0; p < pools_.size() && p < states->pools.size(); ++p) {
    const auto& pool = states->pools[p];
    for (std::uint32_t b = 0; b < pool.size(); ++b) {
      const health::BackendState before =
          health_ ? health_->pools[p][b] : health::BackendState::kUnknown;
      if (pool[b] == before) continue;
      // Draining and disabled take no new connections either.
      pools_[p].health->setActiveUp(b, pool[b] == health::BackendState::kUp,
                                    /*ramp=*/before != health::BackendState::kUnknown, now);
    }
  }
  health_ = std::move(states);
}

void Worker::applyAdmin(std::shared_ptr<const admin::AdminSnapshot> snapshot) {
  const std::int64_t now = loop_->now();
  const auto& config = snapshot_->config;
  for (std::size_t p = 0; p < pools_.size() && p < snapshot->states.size(); ++p) {
    const auto& pool = config.pools[p];
    auto& state = pools_[p];
    const bool maglev = pool.balance == balance::Algorithm::kMaglev;
    // As in Snapshot::build: weights are scaled where slow start ramps them.
    const std::uint32_t scale =
        pool.slow_start.count() > 0 && !maglev ? proxy::kSlowStartScale : 1U;
    for (std::uint32_t b = 0; b < snapshot->states[p].size(); ++b) {
      const admin::AdminState now_state = snapshot->states[p][b];
      const admin::AdminState before = admin_ ? admin_->states[p][b] : admin::AdminState::kEnabled;
      if (now_state != before) {
        state.health->setAdminAllowed(b, admin::adminAllowsNew(now_state), now);
      }
      const std::uint32_t weight = snapshot->weights[p][b] * scale;
      if (weight != state.health->fullWeight(b)) state.health->setFullWeight(b, weight, now);
    }
    if (maglev && snapshot->maglev_tables[p] &&
        (!admin_ || admin_->maglev_tables[p] != snapshot->maglev_tables[p])) {
      static_cast<balance::MaglevBalancer&>(*state.balancer).setTable(snapshot->maglev_tables[p]);
    }
  }
  admin_ = std::move(snapshot);
}

void Worker::tickHealth() {
  const std::int64_t now = loop_->now();
  for (auto& pool : pools_) {
    if (pool.health->needsTicks()) pool.health->tick(now);
  }
  loop_->timers().schedule(&health_ticker_, now + kHealthTickMs);
}

void Worker::onAccepted(std::uint32_t listener_index, base::Fd client,
                        const proxy::ClientAddress& address) {
  stats_.accepted.add();
  const auto& listener = snapshot_->config.listeners[listener_index];
  bool counted = false;
  if (listener.proxy_accept) {
    // Only a trusted proxy may name another client; who that client is, and whether it is let
    // in, is decided once its header has arrived (admitClient).
    if (!listener.proxy_trusted.contains(&address.addr.sa, address.len)) {
      stats_.refused_proxy_untrusted.add();
      refuse(listener_index, std::move(client));
      return;
    }
  } else if (!admit(listener, address, counted)) {
    refuse(listener_index, std::move(client));
    return;
  }
  auto* session = new proxy::Session(env_, this, listener, pools_[listener.pool_index],
                                     std::move(client), address);
  session->source_admitted = counted;
  sessions_.pushFront(session);
  session->start();
}

bool Worker::admit(const config::ListenerConfig& listener, const proxy::ClientAddress& address,
                   bool& counted) {
  if (!proxy::clientAllowed(listener, &address.addr.sa, address.len)) {
    stats_.refused_acl.add();
    return false;
  }
  auto& limiter = source_limiters_[listener.index];
  proxy::SourceKey key;
  if (!limiter || !proxy::SourceKey::from(address, key)) return true;
  const auto verdict = limiter->admit(key, loop_->now());
  if (verdict == proxy::SourceLimiter::Verdict::kAdmitted) {
    counted = true;
    return true;
  }
  (verdict == proxy::SourceLimiter::Verdict::kTooManyConnections ? stats_.refused_source_connections
                                                                 : stats_.refused_source_rate)
      .add();
  return false;
}

bool Worker::admitClient(proxy::Session& session) {
  bool counted = false;
  const bool admitted = admit(session.listener(), session.clientAddress(), counted);
  session.source_admitted = counted;
  return admitted;
}

void Worker::onSessionQueued() {
  if (!queue_ticker_.scheduled()) {
    loop_->timers().schedule(&queue_ticker_, loop_->now() + kQueueRecheckMs);
  }
}

void Worker::wakeQueued(proxy::PoolState& pool) {
  // Each session tried at most once: one that queues again goes to the back, and ends the round.
  for (std::size_t n = pool.queue.size(); n > 0 && !pool.queue.empty(); --n) {
    proxy::Session* first = pool.queue.front();
    first->retryFromQueue();
    if (pool.queue.size() > 0 && first->queue_links.queued) break;  // still no room
  }
}

void Worker::checkQueues() {
  bool waiting = false;
  for (auto& pool : pools_) {
    if (pool.queue.empty()) continue;
    wakeQueued(pool);
    waiting |= !pool.queue.empty();
  }
  if (waiting) loop_->timers().schedule(&queue_ticker_, loop_->now() + kQueueRecheckMs);
}

void Worker::refuse(std::uint32_t listener_index, base::Fd client) {
  // Refused before any backend is contacted; a reset frees everything at once.
  net::setResetOnClose(client.get());
  client.reset();
  if (connection_limits_ != nullptr && connection_limits_->limits(listener_index)) {
    connection_limits_->release(listener_index);
  }
}

void Worker::onSessionEnded(proxy::Session* session) {
  const std::uint32_t listener = session->listener().index;
  proxy::PoolState& pool = session->pool();
  if (auto& limiter = source_limiters_[listener]; limiter && session->source_admitted) {
    proxy::SourceKey key;
    if (proxy::SourceKey::from(session->clientAddress(), key)) limiter->release(key, loop_->now());
  }
  if (connection_limits_ != nullptr && connection_limits_->limits(listener)) {
    connection_limits_->release(listener);
    for (auto& acceptor : acceptors_) acceptor->onRoom();
  }
  loop_->deferDelete(std::unique_ptr<io::Deferred>(sessions_.unlink(session)));
  if (pool.slots != nullptr) wakeQueued(pool);
  stopIfDrained();
}

}  // namespace l4lb::worker
