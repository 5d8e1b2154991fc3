#include <fmt/format.h>

#include "app/server.h"
#include "base/log.h"

namespace l4lb::app {

void Server::discoverFirst() {
  const auto sources = discover::sourcesOf(first_config_);
  if (sources.empty()) return;
  discovered_ = discover::firstAnswers(sources);
  mergeDiscovered(first_config_);
}

void Server::mergeDiscovered(config::Config& next) const {
  for (const std::string& note : config::mergeDiscovered(next, discovered_)) {
    base::logWarn("discovery: {}", note);
  }
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
  discovery_ = std::make_unique<discover::DiscoveryRunner>(
      std::move(sources), discovered_,
      [loop = loop_.get(), this](const std::string& pool, config::DiscoveredSet set) {
        // The runner is stopped before the loop goes (stopDiscovery), so posting is safe.
        loop->post(
            [this, pool, set = std::move(set)]() mutable { onDiscovered(pool, std::move(set)); });
      });
  discovery_->start();
}

void Server::stopDiscovery() {
  if (!discovery_) return;
  discovery_->stop();
  discovery_.reset();
}

void Server::onDiscovered(const std::string& pool, config::DiscoveredSet set) {
  if (draining_) return;
  auto previous = discovered_.find(pool);
  std::optional<config::DiscoveredSet> before;
  if (previous != discovered_.end()) before = previous->second;
  const std::string label = set.label;
  const std::size_t count = set.backends.size();
  discovered_[pool] = std::move(set);
  config::Config next = serving_->config;
  mergeDiscovered(next);
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
