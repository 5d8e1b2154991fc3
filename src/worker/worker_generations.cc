// A worker's config generations (worker.h, "Config generations"): what a config is as this
// worker serves it, a reload that makes the newest one serve new connections while sessions
// keep theirs, and the end of a generation once its last session has ended.

#include <algorithm>

#include "base/log.h"
#include "worker/worker.h"

namespace l4lb::worker {

namespace {

// The same per-source limits: a reload that keeps them keeps the counts of open connections.
bool sameSourceLimits(const config::ListenerConfig& a, const config::ListenerConfig& b) {
  return a.per_source_max_connections == b.per_source_max_connections &&
         a.per_source_rate.count == b.per_source_rate.count &&
         a.per_source_rate.period_ms == b.per_source_rate.period_ms;
}

}  // namespace

std::shared_ptr<Worker::Generation> Worker::makeGeneration(
    std::shared_ptr<const ServingConfig> serving, const Generation* previous) {
  auto generation = std::make_shared<Generation>();
  generation->serving = std::move(serving);
  const auto& config = generation->config();
  generation->pools.reserve(config.pools.size());
  for (std::uint32_t i = 0; i < config.pools.size(); ++i) {
    generation->pools.push_back(makePoolState(*generation, i, previous));
  }
  generation->listener_counters.resize(config.listeners.size());
  generation->source_limiters.resize(config.listeners.size());
  for (std::uint32_t i = 0; i < config.listeners.size(); ++i) {
    carryListenerState(*generation, i, previous);
  }
  return generation;
}

proxy::PoolState Worker::makePoolState(const Generation& generation, std::uint32_t index,
                                       const Generation* previous) {
  const auto& pool = generation.config().pools[index];
  // Per-worker seeds keep random-two's choices independent between workers.
  const std::uint64_t seed = 0x9e3779b97f4a7c15ULL * (id_ + 1) + index;
  proxy::PoolState state;
  state.config = &pool;
  state.balancer = generation.serving->plans[index]->instantiate(seed);
  balance::BackendHealth::Options options;
  options.pool = pool.name;
  options.eject_after = pool.eject_after;
  options.eject_for_ms = pool.eject_for.count();
  options.slow_start_ms = pool.slow_start.count();
  options.active_checks = pool.health.has_value();
  options.datagram = !pool.backends.empty() && !pool.backends.front().address.isStream();
  std::vector<std::string> names;
  for (const auto& backend : pool.backends) names.push_back(backend.name);
  state.health = std::make_unique<balance::BackendHealth>(std::move(options), *state.balancer,
                                                          std::move(names), loop_->now());
  state.slots = generation.serving->backend_slots[index].get();
  if (previous == nullptr) return state;
  // A backend the reload keeps (same pool and backend name) keeps its counters: the metrics do
  // not reset, and both generations' connections count in them.
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
  return state;
}

void Worker::carryListenerState(Generation& generation, std::uint32_t index,
                                const Generation* previous) {
  const auto& listener = generation.config().listeners[index];
  const proxy::SourceLimiter::Limits limits{listener.per_source_max_connections,
                                            listener.per_source_rate};
  const bool limited = limits.any() && !listener.isDatagram();
  if (previous != nullptr) {
    const auto& before = previous->config().listeners;
    for (std::uint32_t j = 0; j < before.size(); ++j) {
      // The same name keeps its counters, so the metrics stay monotonic.
      if (before[j].name == listener.name) {
        generation.listener_counters[index] = previous->listener_counters[j];
      }
      // The same socket and limits keep the per-source counts of open connections.
      if (limited && sameBind(before[j], listener) && sameSourceLimits(before[j], listener) &&
          previous->source_limiters[j]) {
        generation.source_limiters[index] = previous->source_limiters[j];
      }
    }
  }
  if (!generation.listener_counters[index]) {
    generation.listener_counters[index] = std::make_shared<proxy::ListenerCounters>();
  }
  if (limited && !generation.source_limiters[index]) {
    generation.source_limiters[index] = std::make_shared<proxy::SourceLimiter>(limits);
  }
}

void Worker::reload(ServingOrder& order) {
  if (draining_) return;  // shutting down: nothing new is served
  Generation& before = current();
  const auto& old_listeners = before.config().listeners;
  auto generation = makeGeneration(order.serving, &before);
  generations_.push_back(generation);
  published_.store(generation);
  Generation& now = current();

  // The carried health and operator states, as if the new pools had always had them.
  if (order.health) applyHealthTo(now, *order.health, nullptr);
  health_ = order.health;
  admin_.reset();
  if (order.admin) applyAdmin(order.admin);

  std::vector<bool> served(now.config().listeners.size(), false);
  keepListeners(old_listeners, served);
  openNewListeners(order, served);
  env_.pipes = now.config().global.splice ? &pipes_ : nullptr;
  scheduleHealthTicks();
  dropIdleGenerations();
}

void Worker::keepListeners(const std::vector<config::ListenerConfig>& old_listeners,
                           std::vector<bool>& served) {
  Generation& now = current();
  const auto& listeners = now.config().listeners;
  // The first listener of the new config that is the same socket as `old` and of its kind.
  auto match = [&listeners](const config::ListenerConfig& old, bool datagram) {
    for (std::uint32_t i = 0; i < listeners.size(); ++i) {
      if (listeners[i].isDatagram() == datagram && sameBind(old, listeners[i])) return i;
    }
    return UINT32_MAX;
  };
  // Stream listeners: one whose bind is unchanged keeps its acceptor (and socket), now serving
  // the new listener; the others close. Every acceptor is matched, not only the first: a worker
  // may serve several sockets of one listener (handed over by an old process with more workers).
  std::vector<std::unique_ptr<Acceptor>> kept;
  for (auto& acceptor : acceptors_) {
    const std::uint32_t i = match(old_listeners[acceptor->listenerIndex()], false);
    if (i == UINT32_MAX) {
      acceptor->close();
      retired_acceptors_.push_back(std::move(acceptor));
      continue;
    }
    served[i] = true;
    acceptor->setListenerIndex(i);
    kept.push_back(std::move(acceptor));
  }
  acceptors_ = std::move(kept);

  // Datagram listeners: the same, their flows following their backends by name.
  std::vector<std::unique_ptr<proxy::DatagramListener>> kept_datagram;
  for (auto& datagram : datagram_listeners_) {
    const std::uint32_t i = match(datagram->listener(), true);
    if (i == UINT32_MAX) {
      datagram->close();
      retired_datagram_listeners_.push_back(std::move(datagram));
      continue;
    }
    served[i] = true;
    datagram->carryOver(listeners[i], now.pools[listeners[i].pool_index]);
    kept_datagram.push_back(std::move(datagram));
  }
  datagram_listeners_ = std::move(kept_datagram);
}

void Worker::openNewListeners(ServingOrder& order, const std::vector<bool>& served) {
  const Generation& now = current();
  const auto& listeners = now.config().listeners;
  for (std::uint32_t i = 0; i < listeners.size(); ++i) {
    if (served[i]) continue;
    base::Result<void> opened = base::failure("no socket was bound for it");
    if (listeners[i].isDatagram()) {
      base::Fd owned = i < order.own_sockets.size() ? std::move(order.own_sockets[i]) : base::Fd();
      opened = openDatagramListener(i, std::move(owned));
    } else if (now.serving->sharedFd(i) >= 0 ||
               (i < order.own_sockets.size() && order.own_sockets[i])) {
      base::Fd owned = i < order.own_sockets.size() ? std::move(order.own_sockets[i]) : base::Fd();
      opened = addAcceptor(i, std::move(owned));
    }
    // The supervisor bound (or tried) every new socket before the reload went ahead, so this
    // is out of the ordinary; the rest of the reload stands.
    if (!opened) {
      base::logError("worker {}: reload: listener \"{}\": {}", id_, listeners[i].name,
                     opened.error().message());
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

}  // namespace l4lb::worker
