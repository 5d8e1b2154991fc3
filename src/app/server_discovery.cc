#include <fmt/format.h>

#include <algorithm>

#include "app/server.h"
#include "base/log.h"

namespace l4lb::app {

void Server::discoverFirst() {
  const auto sources = discover::sourcesOf(first_config_);
  if (sources.empty()) return;
  discovered_ = discover::firstAnswers(sources);
  mergeDiscovered(first_config_, discovered_);
}

void Server::mergeDiscovered(config::Config& next, const config::DiscoveredPools& sets) {
  for (const std::string& note : config::mergeDiscovered(next, sets)) {
    base::logWarn("discovery: {}", note);
  }
}

config::DiscoveredPools Server::withNewSources(const config::Config& next) const {
  config::DiscoveredPools sets = discovered_;
  std::vector<discover::SourceSpec> added;
  for (discover::SourceSpec& spec : discover::sourcesOf(next)) {
    // Only a source with no set yet: a known one's answers go through its gate (a reload that
    // raises max_removed lets the discovery thread apply what it held, not this).
    auto known = discovered_.find(spec.pool);
    if (known == discovered_.end() || known->second.label != spec.config.label()) {
      added.push_back(std::move(spec));
    }
  }
  for (auto& [pool, set] : discover::firstAnswers(added)) sets[pool] = std::move(set);
  return sets;
}

void Server::startDiscovery() {
  auto sources = discover::sourcesOf(serving_->config);
  if (discovery_ && discovery_->sources() == sources) return;
  stopDiscovery();
  // A pool whose source went, or changed, starts again from what the new source answers.
  std::erase_if(discovered_, [&](const auto& entry) {
    return std::none_of(sources.begin(), sources.end(), [&](const discover::SourceSpec& s) {
      return s.pool == entry.first && s.config.label() == entry.second.label;
    });
  });
  if (sources.empty()) return;
  auto runner = std::make_unique<discover::DiscoveryRunner>(
      std::move(sources), discovered_,
      [loop = loop_.get(), this](const std::string& pool, config::DiscoveredSet set) {
        // The runner is stopped before the loop goes (stopDiscovery), so posting is safe.
        loop->post(
            [this, pool, set = std::move(set)]() mutable { onDiscovered(pool, std::move(set)); });
      });
  runner->start();
  std::lock_guard lock(discovery_mutex_);
  discovery_ = std::move(runner);
}

std::vector<config::DiscoveryStatus> Server::discoveryStatus() {
  std::lock_guard lock(discovery_mutex_);
  if (!discovery_) return {};
  return discovery_->status();
}

std::map<std::string, std::string, std::less<>> Server::discoveryUnsynced() {
  std::map<std::string, std::string, std::less<>> unsynced;
  std::vector<config::DiscoveryStatus> statuses;
  for (const config::PoolConfig& pool : serving_->config.pools) {
    if (!pool.discover) continue;
    const std::string label = pool.discover->label();
    // Applied: the first answers at start (or the reload that named the source), or a settled
    // change since.
    if (auto applied = discovered_.find(pool.name);
        applied != discovered_.end() && applied->second.label == label) {
      continue;
    }
    if (statuses.empty()) statuses = discoveryStatus();
    const auto status = std::find_if(statuses.begin(), statuses.end(), [&](const auto& s) {
      return s.pool == pool.name && s.label == label;
    });
    if (status == statuses.end()) {
      unsynced[pool.name] = "starting: " + label;
      continue;
    }
    // Judged with authority and nothing pending: an empty answer, with nothing to apply. A
    // pending answer with backends counts once applied (discovered_ then has it).
    if (status->synced && status->state != "pending") continue;
    unsynced[pool.name] =
        status->state + ": " + (status->message.empty() ? label : status->message);
  }
  return unsynced;
}

void Server::stopDiscovery() {
  std::unique_ptr<discover::DiscoveryRunner> stopping;
  {
    std::lock_guard lock(discovery_mutex_);
    stopping = std::move(discovery_);
  }
  if (stopping) stopping->stop();
}

void Server::onDiscovered(const std::string& pool, config::DiscoveredSet set) {
  if (draining_) return;
  // Posted by a source a reload has since replaced or removed: its set is no longer this pool's.
  const auto& pools = serving_->config.pools;
  const auto running = std::find_if(pools.begin(), pools.end(),
                                    [&](const config::PoolConfig& p) { return p.name == pool; });
  if (running == pools.end() || !running->discover || running->discover->label() != set.label) {
    return;
  }
  auto previous = discovered_.find(pool);
  std::optional<config::DiscoveredSet> before;
  if (previous != discovered_.end()) before = previous->second;
  const std::string label = set.label;
  const std::size_t count = set.backends.size();
  discovered_[pool] = std::move(set);
  config::Config next = serving_->config;
  mergeDiscovered(next, discovered_);
  const admin::ReloadOutcome outcome =
      apply(std::move(next),
            fmt::format("discovery: pool {}: {} now gives {} backend{}", pool, label, count,
                        count == 1 ? "" : "s"),
            "discovery");
  if (outcome.ok || draining_) return;
  // Not applied (an upgrade under way): the pool keeps what was applied before, and the
  // discovery thread starts again from it, so the source's next answer tries again.
  if (before) {
    discovered_[pool] = std::move(*before);
  } else {
    discovered_.erase(pool);
  }
  stopDiscovery();
  startDiscovery();
}

}  // namespace l4lb::app
