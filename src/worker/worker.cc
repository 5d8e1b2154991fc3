#include "worker/worker.h"

#include <fcntl.h>

#include <algorithm>

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

// The same per-source limits: a reload that keeps them keeps the counts of open connections.
bool sameSourceLimits(const config::ListenerConfig& a, const config::ListenerConfig& b) {
  return a.per_source_max_connections == b.per_source_max_connections &&
         a.per_source_rate.count == b.per_source_rate.count &&
         a.per_source_rate.period_ms == b.per_source_rate.period_ms;
}

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

std::shared_ptr<Worker::Generation> Worker::makeGeneration(
    std::shared_ptr<const ServingConfig> serving, const Generation* previous) {
  auto generation = std::make_shared<Generation>();
  generation->serving = std::move(serving);
  const auto& config = generation->config();
  const auto& snapshot = *generation->serving->snapshot;
  generation->pools.reserve(config.pools.size());
  for (std::size_t i = 0; i < config.pools.size(); ++i) {
    // Per-worker seeds keep random-two's choices independent between workers.
    std::uint64_t seed = 0x9e3779b97f4a7c15ULL * (id_ + 1) + i;
    const auto& pool = config.pools[i];
    proxy::PoolState state;
    state.config = &pool;
    state.balancer = snapshot.plans[i]->instantiate(seed);
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
    state.slots = generation->serving->backend_slots[i].get();
    if (previous != nullptr) {
      // A backend the reload keeps (same pool and backend name) keeps its counters: the
      // metrics do not reset, and both generations' connections count in them.
      for (const auto& old_pool : previous->pools) {
        if (old_pool.config->name != pool.name) continue;
        for (std::uint32_t b = 0; b < pool.backends.size(); ++b) {
          for (std::uint32_t o = 0; o < old_pool.config->backends.size(); ++o) {
            if (old_pool.config->backends[o].name == pool.backends[b].name) {
              state.balancer->carryCounters(b, old_pool.balancer->sharedCounters(o));
            }
          }
        }
      }
    }
    generation->pools.push_back(std::move(state));
  }
  generation->listener_counters.resize(config.listeners.size());
  for (std::uint32_t i = 0; i < config.listeners.size(); ++i) {
    if (previous != nullptr) {
      const auto& before = previous->config().listeners;
      for (std::uint32_t j = 0; j < before.size(); ++j) {
        if (before[j].name == config.listeners[i].name) {
          generation->listener_counters[i] = previous->listener_counters[j];
        }
      }
    }
    if (!generation->listener_counters[i]) {
      generation->listener_counters[i] = std::make_shared<proxy::ListenerCounters>();
    }
  }
  generation->source_limiters.resize(config.listeners.size());
  for (std::uint32_t i = 0; i < config.listeners.size(); ++i) {
    const auto& listener = config.listeners[i];
    proxy::SourceLimiter::Limits limits{listener.per_source_max_connections,
                                        listener.per_source_rate};
    if (!limits.any() || listener.isDatagram()) continue;
    if (previous != nullptr) {
      const auto& before = previous->config().listeners;
      for (std::uint32_t j = 0; j < before.size(); ++j) {
        if (sameBind(before[j], listener) && sameSourceLimits(before[j], listener) &&
            previous->source_limiters[j]) {
          generation->source_limiters[i] = previous->source_limiters[j];
        }
      }
    }
    if (!generation->source_limiters[i]) {
      generation->source_limiters[i] = std::make_shared<proxy::SourceLimiter>(limits);
    }
  }
  return generation;
}

bool Worker::init(std::string& error) {
  auto loop = io::EventLoop::create();
  if (!loop) {
    error = loop.error().message();
    return false;
  }
  loop_ = std::move(loop.value());
  std::shared_ptr<const ServingConfig> serving = current().serving;
  const auto& config = serving->config();
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
    const auto& listener = config.listeners[i];
    std::vector<base::Fd> taken;
    if (i < taken_sockets_.size()) taken = std::move(taken_sockets_[i]);
    if (listener.isDatagram()) {
      base::Fd first = taken.empty() ? base::Fd() : std::move(taken[0]);
      if (!openDatagramListener(i, error, std::move(first))) return false;
      // A worker of the new process with more than one socket of the old (fewer workers now):
      // each is served, or the flows the kernel hashes to it would be stranded.
      for (std::size_t extra = 1; extra < taken.size(); ++extra) {
        if (!openDatagramListener(i, error, std::move(taken[extra]))) return false;
      }
      continue;
    }
    if (!taken.empty()) {
      for (auto& socket : taken) {
        if (!addAcceptor(i, std::move(socket), error)) return false;
      }
      continue;
    }
    base::Fd owned;
    if (serving->sharedFd(i) < 0) {
      auto bound = net::listenStream(listener.bind,
                                     net::ListenOptions{listener.backlog, /*reuse_port=*/true});
      if (!bound) {
        error = "listener \"" + listener.name + "\" (" + listener.bind.url +
                "): " + bound.error().message();
        return false;
      }
      owned = std::move(bound.value());
      net::setNoDelay(owned.get(), listener.bind.family());  // inherited by accepted sockets
      if (current().source_limiters[i]) {
        // Each client address to one worker, so per-source limits are counted exactly.
        auto steered = net::steerBySource(owned.get(), worker_count_);
        if (!steered) {
          error = "listener \"" + listener.name + "\": " + steered.error().message();
          return false;
        }
      }
    }
    if (!addAcceptor(i, std::move(owned), error)) return false;
  }
  return true;
}

bool Worker::addAcceptor(std::uint32_t index, base::Fd owned, std::string& error) {
  auto acceptor = std::make_unique<Acceptor>(*this, index, std::move(owned),
                                             current().serving->sharedFd(index));
  auto armed = acceptor->arm();
  if (!armed) {
    error =
        "listener \"" + current().config().listeners[index].name + "\": " + armed.error().message();
    return false;
  }
  acceptors_.push_back(std::move(acceptor));
  return true;
}

bool Worker::openDatagramListener(std::uint32_t index, std::string& error, base::Fd taken) {
  const auto& listener = current().config().listeners[index];
  // A socket the service manager passed is one socket: worker 0 serves it, as unixgram://.
  const int passed = taken ? -1 : current().serving->sharedFd(index);
  const bool per_worker = listener.bind.kind == net::EndpointKind::kUdp && passed < 0;
  if (!per_worker && id_ != 0 && !taken) return true;
  base::Fd passed_copy;
  if (passed >= 0) {
    // The listener closes its descriptor when it stops; the config keeps the passed one.
    passed_copy.reset(::fcntl(passed, F_DUPFD_CLOEXEC, 0));
    if (!passed_copy) {
      error = "listener \"" + listener.name + "\" (" + listener.bind.url +
              "): " + base::lastError("fcntl(F_DUPFD_CLOEXEC)").message();
      return false;
    }
  }
  if (!datagram_buffers_) datagram_buffers_ = std::make_unique<proxy::DatagramBuffers>();
  proxy::DatagramEnv env{loop_.get(), datagram_buffers_.get(), &datagram_stats_, &access_log_,
                         &datagram_failure_log_};
  auto datagram = std::make_unique<proxy::DatagramListener>(env, listener,
                                                            current().pools[listener.pool_index]);
  auto opened =
      taken ? datagram->openTakenOver(std::move(taken))
            : datagram->open(/*reuse_port=*/per_worker, worker_count_, std::move(passed_copy));
  if (!opened) {
    error = "listener \"" + listener.name + "\" (" + listener.bind.url +
            "): " + opened.error().message();
    return false;
  }
  datagram_listeners_.push_back(std::move(datagram));
  return true;
}

void Worker::reload(ServingOrder& order) {
  if (draining_) return;  // shutting down: nothing new is served
  Generation& before = current();
  const auto& old_listeners = before.config().listeners;
  auto generation = makeGeneration(order.serving, &before);
  const auto& config = generation->config();
  generations_.push_back(generation);
  published_.store(generation);
  Generation& now = current();

  // The carried health and operator states, as if the new pools had always had them.
  if (order.health) applyHealthTo(now, *order.health, nullptr);
  health_ = order.health;
  admin_.reset();
  if (order.admin) applyAdmin(order.admin);

  // Stream listeners: one whose bind is unchanged keeps its acceptor (and socket), now serving
  // the new listener; the others close, and new ones start.
  std::vector<bool> served(config.listeners.size(), false);
  std::vector<std::unique_ptr<Acceptor>> kept;
  for (auto& acceptor : acceptors_) {
    const auto& old = old_listeners[acceptor->listenerIndex()];
    std::uint32_t match = UINT32_MAX;
    for (std::uint32_t i = 0; i < config.listeners.size(); ++i) {
      // Not only the first: a worker may serve several sockets of one listener (handed over by
      // an old process that had more workers).
      if (!config.listeners[i].isDatagram() && sameBind(old, config.listeners[i])) {
        match = i;
        break;
      }
    }
    if (match == UINT32_MAX) {
      acceptor->close();
      retired_acceptors_.push_back(std::move(acceptor));
      continue;
    }
    served[match] = true;
    acceptor->setListenerIndex(match);
    kept.push_back(std::move(acceptor));
  }
  acceptors_ = std::move(kept);

  // Datagram listeners: the same, their flows following their backends by name.
  std::vector<std::unique_ptr<proxy::DatagramListener>> kept_datagram;
  for (auto& datagram : datagram_listeners_) {
    std::uint32_t match = UINT32_MAX;
    for (std::uint32_t i = 0; i < config.listeners.size(); ++i) {
      if (config.listeners[i].isDatagram() && sameBind(datagram->listener(), config.listeners[i])) {
        match = i;
        break;
      }
    }
    if (match == UINT32_MAX) {
      datagram->close();
      retired_datagram_listeners_.push_back(std::move(datagram));
      continue;
    }
    served[match] = true;
    const auto& listener = config.listeners[match];
    datagram->carryOver(listener, now.pools[listener.pool_index]);
    kept_datagram.push_back(std::move(datagram));
  }
  datagram_listeners_ = std::move(kept_datagram);

  for (std::uint32_t i = 0; i < config.listeners.size(); ++i) {
    if (served[i]) continue;
    const auto& listener = config.listeners[i];
    std::string error;
    bool ok = true;
    if (listener.isDatagram()) {
      ok = openDatagramListener(i, error);
    } else if (now.serving->sharedFd(i) >= 0 ||
               (i < order.own_sockets.size() && order.own_sockets[i])) {
      base::Fd owned = i < order.own_sockets.size() ? std::move(order.own_sockets[i]) : base::Fd();
      ok = addAcceptor(i, std::move(owned), error);
    } else {
      error = "listener \"" + listener.name + "\": no socket was bound for it";
      ok = false;
    }
    // The supervisor bound (or tried) every new socket before the reload went ahead, so this
    // is out of the ordinary; the rest of the reload stands.
    if (!ok) base::logError("worker {}: reload: {}", id_, error);
  }
  env_.pipes = config.global.splice ? &pipes_ : nullptr;
  scheduleHealthTicks();
  dropIdleGenerations();
}

void Worker::scheduleHealthTicks() {
  if (health_ticker_.scheduled()) return;
  for (const auto& pool : current().pools) {
    if (pool.health->needsTicks()) {
      loop_->timers().schedule(&health_ticker_, loop_->now() + kHealthTickMs);
      return;
    }
  }
}

void Worker::dropIdleGenerations() {
  // The newest stays; older ones go once no session needs them.
  for (std::size_t i = 0; i + 1 < generations_.size();) {
    if (generations_[i]->sessions == 0) {
      generations_.erase(generations_.begin() + static_cast<std::ptrdiff_t>(i));
    } else {
      ++i;
    }
  }
}

Worker::CountersView Worker::backendCounters(std::string_view pool,
                                             std::string_view backend) const {
  std::shared_ptr<const Generation> generation = published_.load();
  CountersView view;
  if (!generation) return view;
  const auto& pools = generation->config().pools;
  for (std::size_t p = 0; p < pools.size(); ++p) {
    if (pools[p].name != pool) continue;
    for (std::uint32_t b = 0; b < pools[p].backends.size(); ++b) {
      if (pools[p].backends[b].name != backend) continue;
      view.counters = &generation->pools[p].balancer->counters(b);
      view.keep = std::move(generation);
      return view;
    }
  }
  return view;
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

void Worker::applyHealthTo(Generation& generation, const control::HealthSnapshot& states,
                           const control::HealthSnapshot* before) {
  const std::int64_t now = loop_->now();
  auto& pools = generation.pools;
  for (std::size_t p = 0; p < pools.size() && p < states.pools.size(); ++p) {
    const auto& pool = states.pools[p];
    for (std::uint32_t b = 0; b < pool.size() && b < pools[p].config->backends.size(); ++b) {
      const control::BackendState was =
          before != nullptr ? before->pools[p][b] : control::BackendState::kUnknown;
      if (pool[b] == was) continue;
      // Draining and disabled take no new connections either.
      pools[p].health->setActiveUp(b, pool[b] == control::BackendState::kUp,
                                   /*ramp=*/was != control::BackendState::kUnknown, now);
    }
  }
}

void Worker::applyHealth(std::shared_ptr<const control::HealthSnapshot> states) {
  applyHealthTo(current(), *states, health_.get());
  health_ = std::move(states);
}

void Worker::applyAdmin(std::shared_ptr<const control::AdminSnapshot> snapshot) {
  const std::int64_t now = loop_->now();
  Generation& generation = current();
  const auto& config = generation.config();
  for (std::size_t p = 0; p < generation.pools.size() && p < snapshot->states.size(); ++p) {
    const auto& pool = config.pools[p];
    auto& state = generation.pools[p];
    const bool maglev = pool.balance == balance::Algorithm::kMaglev;
    const std::uint32_t scale = proxy::weightScale(pool);
    for (std::uint32_t b = 0; b < snapshot->states[p].size() && b < pool.backends.size(); ++b) {
      const control::AdminState now_state = snapshot->states[p][b];
      const control::AdminState before =
          admin_ ? admin_->states[p][b] : control::AdminState::kEnabled;
      if (now_state != before) {
        state.health->setAdminAllowed(b, control::adminAllowsNew(now_state), now);
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
  // Only the newest generation picks backends for new connections; older ones keep what they
  // counted for their sessions' retries.
  bool needed = false;
  for (auto& pool : current().pools) {
    if (!pool.health->needsTicks()) continue;
    pool.health->tick(now);
    needed = true;
  }
  if (needed) loop_->timers().schedule(&health_ticker_, now + kHealthTickMs);
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
      stats_.refused_proxy_untrusted.add();
      counters.refused_proxy_untrusted.add();
      refuse(listener_index, std::move(client));
      return;
    }
  } else if (!admit(listener, address, counted)) {
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
  session->start();
}

bool Worker::admit(const config::ListenerConfig& listener, const proxy::ClientAddress& address,
                   bool& counted) {
  proxy::ListenerCounters& counters = *current().listener_counters[listener.index];
  if (!proxy::clientAllowed(listener, &address.addr.sa, address.len)) {
    stats_.refused_acl.add();
    counters.refused_acl.add();
    return false;
  }
  // The limiter of the generation the listener config belongs to (the newest, at accept).
  auto& limiter = current().source_limiters[listener.index];
  proxy::SourceKey key;
  if (!limiter || !proxy::SourceKey::from(address, key)) return true;
  const auto verdict = limiter->admit(key, loop_->now());
  if (verdict == proxy::SourceLimiter::Verdict::kAdmitted) {
    counted = true;
    return true;
  }
  const bool too_many = verdict == proxy::SourceLimiter::Verdict::kTooManyConnections;
  (too_many ? stats_.refused_source_connections : stats_.refused_source_rate).add();
  (too_many ? counters.refused_source_connections : counters.refused_source_rate).add();
  return false;
}

bool Worker::admitClient(proxy::Session& session) {
  bool counted = false;
  // A session admitted after its PROXY header may have waited through a reload: its own
  // generation's limiter counts it.
  auto* generation = static_cast<Generation*>(session.scope);
  const auto& listener = session.listener();
  proxy::ListenerCounters& counters = session.listenerCounters();
  if (!proxy::clientAllowed(listener, &session.clientAddress().addr.sa,
                            session.clientAddress().len)) {
    stats_.refused_acl.add();
    counters.refused_acl.add();
    return false;
  }
  auto& limiter = generation->source_limiters[listener.index];
  proxy::SourceKey key;
  if (limiter && proxy::SourceKey::from(session.clientAddress(), key)) {
    const auto verdict = limiter->admit(key, loop_->now());
    if (verdict != proxy::SourceLimiter::Verdict::kAdmitted) {
      const bool too_many = verdict == proxy::SourceLimiter::Verdict::kTooManyConnections;
      (too_many ? stats_.refused_source_connections : stats_.refused_source_rate).add();
      (too_many ? counters.refused_source_connections : counters.refused_source_rate).add();
      return false;
    }
    counted = true;
  }
  session.source_admitted = counted;
  return true;
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
