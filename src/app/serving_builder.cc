#include "app/serving_builder.h"

#include <fmt/format.h>
#include <sys/un.h>

#include <algorithm>
#include <cerrno>

#include "app/listener_sockets.h"
#include "config/config_diff.h"
#include "control/health_verdicts.h"
#include "net/datagram_socket.h"
#include "net/local_source.h"
#include "net/socket.h"

namespace l4lb::app {

namespace {

const config::ListenerConfig* findSameBind(const config::Config& config,
                                           const config::ListenerConfig& listener) {
  for (const auto& other : config.listeners) {
    if (worker::sameBind(other, listener)) return &other;
  }
  return nullptr;
}

}  // namespace

namespace {

// The pools' source addresses, tried before anything changes: a capability or an address this
// host lacks refuses the config (at start or reload) instead of failing every connection.
base::Result<void> trySources(const config::Config& config) {
  for (const auto& pool : config.pools) {
    const auto& source = pool.source;
    base::Result<void> tried;
    if (source.kind == config::SourceKind::kAddress) {
      tried = net::trySource(source.address);
      if (!tried && tried.error().code == EADDRNOTAVAIL) {
        return base::failure(
            fmt::format("pool \"{}\": source \"{}\" is not an address of this "
                        "host ({})",
                        pool.name, source.text, tried.error().message()));
      }
    } else if (source.kind == config::SourceKind::kClient) {
      for (const auto& backend : pool.backends) {
        tried = net::tryTransparent(backend.address.family());
        if (!tried) break;
      }
      if (!tried && tried.error().code == EPERM) {
        return base::failure(fmt::format(
            "pool \"{}\": source = \"client\" binds each connection to its client's address, "
            "which needs CAP_NET_RAW or CAP_NET_ADMIN ({}): run l4lb as root (with [global] user, "
            "it keeps CAP_NET_RAW), or grant it, e.g. systemd's AmbientCapabilities=CAP_NET_RAW",
            pool.name, tried.error().message()));
      }
    }
    if (!tried) return tried.error().within(fmt::format("pool \"{}\": source", pool.name));
  }
  return {};
}

}  // namespace

base::Result<std::shared_ptr<worker::ServingConfig>> buildServing(
    config::Config next, const worker::ServingConfig* previous, UnlistenedSockets& unlistened,
    std::vector<base::Fd>* activated, std::vector<base::Fd>* taken) {
  if (auto sources = trySources(next); !sources) return sources.error();
  auto serving = std::make_shared<worker::ServingConfig>();
  serving->config = std::move(next);
  const auto& config = serving->config;
  serving->plans = proxy::planPools(config);

  std::vector<std::uint32_t> listener_max;
  bool any_limit = config.global.max_connections > 0;
  for (const auto& listener : config.listeners) {
    listener_max.push_back(listener.max_connections);
    any_limit |= listener.max_connections > 0;
  }
  if (any_limit) {
    serving->limits =
        std::make_unique<worker::ConnectionLimits>(config.global.max_connections, listener_max);
  }
  for (const auto& pool : config.pools) {
    serving->backend_slots.push_back(
        proxy::BackendSlots::wanted(pool) ? std::make_unique<proxy::BackendSlots>(pool) : nullptr);
  }

  // Unix stream listeners: one socket for all workers (SO_REUSEPORT does not apply to them).
  // So is a passed socket, of any kind: there is one of it.
  serving->shared_sockets.resize(config.listeners.size());
  for (std::size_t i = 0; i < config.listeners.size(); ++i) {
    const auto& listener = config.listeners[i];
    if (activated != nullptr && i < activated->size() && (*activated)[i]) {
      if (listener.bind.kind == net::EndpointKind::kTcp) {
        net::setNoDelay((*activated)[i].get(), listener.bind.family());
      }
      serving->shared_sockets[i] =
          std::make_shared<worker::SharedListenSocket>(std::move((*activated)[i]), std::string());
      continue;
    }
    if (previous != nullptr) {
      const auto& before = previous->config.listeners;
      for (std::size_t j = 0; j < before.size(); ++j) {
        if (worker::sameBind(before[j], listener) && previous->shared_sockets[j]) {
          serving->shared_sockets[i] = previous->shared_sockets[j];
        }
      }
      if (serving->shared_sockets[i]) continue;
    }
    std::string path;
    if (listener.bind.kind == net::EndpointKind::kUnix) {
      path = reinterpret_cast<const sockaddr_un*>(&listener.bind.addr)->sun_path;
    }
    if (taken != nullptr && i < taken->size() && (*taken)[i]) {
      serving->shared_sockets[i] =
          std::make_shared<worker::SharedListenSocket>(std::move((*taken)[i]), std::move(path));
      continue;
    }
    if (listener.bind.family() != AF_UNIX || listener.isDatagram()) continue;
    auto bound = net::bindStream(listener.bind,
                                 net::ListenOptions{listener.backlog, false, listener.socket_file});
    if (!bound) return listenerError(listener, bound.error());
    unlistened.add(bound.value().get(), listener.backlog);
    serving->shared_sockets[i] =
        std::make_shared<worker::SharedListenSocket>(std::move(bound.value()), std::move(path));
  }
  return serving;
}

base::Result<void> bindNewListeners(const config::Config& next, const config::Config& previous,
                                    unsigned workers, std::vector<std::vector<base::Fd>>& sockets,
                                    UnlistenedSockets& unlistened) {
  sockets.clear();
  sockets.resize(workers);
  for (auto& per_worker : sockets) per_worker.resize(next.listeners.size());
  for (std::size_t i = 0; i < next.listeners.size(); ++i) {
    const auto& listener = next.listeners[i];
    if (findSameBind(previous, listener) != nullptr || listener.packetPath()) continue;
    if (listener.bind.kind != net::EndpointKind::kTcp &&
        listener.bind.kind != net::EndpointKind::kUdp) {
      continue;
    }
    auto bound = bindWorkerSockets(listener, workers, workers, unlistened);
    if (!bound) return bound.error();
    for (unsigned w = 0; w < workers; ++w) sockets[w][i] = std::move(bound.value()[w]);
  }
  return {};
}

namespace {

// The agent's word of a backend stands through a reload that asks the same agent the same way.
bool sameAgent(const config::PoolConfig& old_pool, const config::BackendConfig& old_backend,
               const config::PoolConfig& pool, const config::BackendConfig& backend) {
  return old_pool.agent && pool.agent && old_backend.agent && backend.agent &&
         old_backend.agent->url == backend.agent->url && old_pool.agent->send == pool.agent->send;
}

}  // namespace

control::HealthSnapshot carryHealth(const config::Config& before,
                                    const control::HealthSnapshot& states,
                                    const config::Config& next) {
  control::HealthSnapshot carried = control::uncheckedSnapshot(next, states.version + 1);
  const std::int64_t now_ms = control::wallClockMillis();
  for (std::size_t p = 0; p < next.pools.size(); ++p) {
    const auto& pool = next.pools[p];
    if (carried.pools[p].empty()) continue;  // neither checks nor an agent
    for (std::size_t q = 0; q < before.pools.size() && q < states.pools.size(); ++q) {
      const auto& old_pool = before.pools[q];
      const std::size_t n = old_pool.backends.size();
      if (old_pool.name != pool.name || states.pools[q].size() != n ||
          states.changes[q].size() != n || states.checks[q].size() != n ||
          states.agents[q].size() != n) {
        continue;
      }
      for (std::size_t b = 0; b < pool.backends.size(); ++b) {
        const auto& backend = pool.backends[b];
        for (std::size_t o = 0; o < n; ++o) {
          const auto& old_backend = old_pool.backends[o];
          if (old_backend.name != backend.name || old_backend.address.url != backend.address.url) {
            continue;
          }
          // Without checks before (or now) the verdict "up" was no check's: start unknown.
          if (pool.health && old_pool.health) carried.checks[p][b] = states.checks[q][o];
          if (sameAgent(old_pool, old_backend, pool, backend)) {
            carried.agents[p][b] = states.agents[q][o];
          }
          carried.pools[p][b] =
              control::combinedState(carried.checks[p][b], carried.agents[p][b].state);
          if (carried.pools[p][b] == states.pools[q][o]) {
            carried.changes[p][b] = states.changes[q][o];
          } else {
            const bool agent_forgotten = carried.agents[p][b] != states.agents[q][o];
            carried.changes[p][b] = control::StateChange{
                states.pools[q][o], carried.pools[p][b],
                agent_forgotten ? "reload: its agent changed" : "reload: its checks changed",
                now_ms};
          }
        }
      }
    }
  }
  return carried;
}

std::vector<std::string> keepRestartOnlySettings(const config::Config& running,
                                                 config::Config& next) {
  std::vector<std::string> kept;
  if (next.global.workers != running.global.workers) {
    kept.push_back(fmt::format("global.workers: {} -> {} needs a restart", running.global.workers,
                               next.global.workers));
    next.global.workers = running.global.workers;
  }
  if (next.global.access_log != running.global.access_log) {
    kept.push_back(fmt::format("global.access_log: \"{}\" -> \"{}\" needs a restart",
                               running.global.access_log, next.global.access_log));
    next.global.access_log = running.global.access_log;
    next.global.access_log_syslog = running.global.access_log_syslog;
  }
  if (next.global.access_log_facility != running.global.access_log_facility ||
      next.global.access_log_tag != running.global.access_log_tag) {
    kept.push_back("global.access_log_facility, global.access_log_tag: a change needs a restart");
    next.global.access_log_facility = running.global.access_log_facility;
    next.global.access_log_tag = running.global.access_log_tag;
  }
  if (next.global.announce_interface != running.global.announce_interface) {
    kept.push_back(fmt::format("global.announce_interface: \"{}\" -> \"{}\" needs a restart",
                               running.global.announce_interface, next.global.announce_interface));
    next.global.announce_interface = running.global.announce_interface;
    // Without an interface nothing can be announced: the listeners that ask are served unannounced.
  }
  if (next.global.state_file != running.global.state_file) {
    kept.push_back(fmt::format("global.state_file: \"{}\" -> \"{}\" needs a restart",
                               running.global.state_file, next.global.state_file));
    next.global.state_file = running.global.state_file;
  }
  if (next.global.user != running.global.user || next.global.group != running.global.group ||
      next.global.uid != running.global.uid || next.global.gid != running.global.gid) {
    // Once dropped, privileges cannot come back; and a different drop would need them.
    kept.push_back(fmt::format(
        "global.user, global.group: \"{}\":\"{}\" -> \"{}\":\"{}\" needs a restart",
        running.global.user, running.global.group, next.global.user, next.global.group));
    next.global.user = running.global.user;
    next.global.group = running.global.group;
    next.global.uid = running.global.uid;
    next.global.gid = running.global.gid;
  }
  std::vector<std::string> before;
  std::vector<std::string> after;
  for (const auto& endpoint : running.admin.listen) before.push_back(endpoint.url);
  for (const auto& endpoint : next.admin.listen) after.push_back(endpoint.url);
  if (before != after || running.admin.token != next.admin.token) {
    kept.push_back("admin (listen, token_file) needs a restart");
    next.admin = running.admin;
  }
  return kept;
}

std::string describeChanges(const config::Config& before, const config::Config& next) {
  const std::vector<std::string> changes = config::diffConfigs(before, next);
  if (changes.empty()) return "no change: listeners and pools as before, and their settings";
  return config::joinChanges(changes);
}

}  // namespace l4lb::app
