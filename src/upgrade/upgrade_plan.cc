#include "upgrade/upgrade_plan.h"

#include <algorithm>

namespace l4lb::upgrade {

namespace {

const BackendRecord* findRecord(const std::vector<BackendRecord>& records,
                                const config::PoolConfig& pool,
                                const config::BackendConfig& backend) {
  for (const auto& record : records) {
    if (record.pool == pool.name && record.backend == backend.name &&
        record.address == backend.address.url) {
      return &record;
    }
  }
  return nullptr;
}

}  // namespace

control::HealthSnapshot takenHealth(const std::vector<BackendRecord>& records,
                                    const config::Config& config) {
  control::HealthSnapshot states = control::uncheckedSnapshot(config, 1);
  for (std::size_t p = 0; p < config.pools.size(); ++p) {
    const auto& pool = config.pools[p];
    if (states.pools[p].empty()) continue;  // neither checks nor an agent
    for (std::size_t b = 0; b < pool.backends.size(); ++b) {
      const auto* record = findRecord(records, pool, pool.backends[b]);
      if (record == nullptr) continue;
      const auto state = static_cast<control::BackendState>(record->health);
      // The wire has one state, the judges combined. Without active checks only the agent
      // can have taken the backend down: its word is kept. With them, the state is taken as
      // the checks' verdict, and the agent is heard anew (it is asked at once).
      if (!pool.health) {
        if (state != control::BackendState::kDown || !pool.backends[b].agent) continue;
        std::string said = record->reason;
        if (said.starts_with("agent: ")) said.erase(0, 7);
        states.agents[p][b] = control::AgentVerdict{.state = state, .said = std::move(said)};
      } else {
        states.checks[p][b] = state;
      }
      states.pools[p][b] = state;
      // The wire has no time for it (nor the state before): a change the process before saw.
      if (state != control::BackendState::kUnknown) {
        states.changes[p][b] =
            control::StateChange{.from = control::BackendState::kUnknown,
                                 .to = state,
                                 .reason = record->reason.empty() ? "carried over" : record->reason,
                                 .unix_ms = 0};
      }
    }
  }
  return states;
}

TakenListeners placeListeners(std::vector<ReceivedHandoff> received, const config::Config& config,
                              unsigned workers) {
  TakenListeners taken;
  taken.shared.resize(config.listeners.size());
  taken.own.resize(workers);
  for (auto& own : taken.own) own.resize(config.listeners.size());
  std::vector<unsigned> next(config.listeners.size(), 0);
  for (auto& item : received) {
    const auto& handoff = std::get<ListenerHandoff>(item.message);
    std::size_t index = config.listeners.size();
    for (std::size_t i = 0; i < config.listeners.size(); ++i) {
      if (config.listeners[i].name == handoff.name &&
          config.listeners[i].bind.url == handoff.bind) {
        index = i;
      }
    }
    if (index == config.listeners.size() || item.fds.empty()) {
      taken.dropped.push_back(handoff.name + " (" + handoff.bind + ")");
      continue;
    }
    const auto& listener = config.listeners[index];
    base::Fd socket = std::move(item.fds[0]);
    if (handoff.worker == kSharedSocket) {
      taken.shared[index] = std::move(socket);
    } else if (listener.bind.family() == AF_UNIX && !listener.isDatagram()) {
      taken.shared[index] = std::move(socket);
    } else if (listener.bind.kind == net::EndpointKind::kUdp ||
               listener.bind.kind == net::EndpointKind::kTcp) {
      taken.own[next[index]++ % workers][index].push_back(std::move(socket));
    } else {
      taken.own[0][index].push_back(std::move(socket));  // unixgram://: worker 0 serves it
    }
    if (std::find(taken.names.begin(), taken.names.end(), listener.name) == taken.names.end()) {
      taken.names.push_back(listener.name);
    }
  }
  return taken;
}

}  // namespace l4lb::upgrade
