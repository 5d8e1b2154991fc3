#include "config/discovered.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "config/read_agent.h"

namespace l4lb::config {

void DiscoveredSet::sort() {
  std::stable_sort(backends.begin(), backends.end(),
                   [](const DiscoveredBackend& a, const DiscoveredBackend& b) {
                     return a.address.url < b.address.url;
                   });
  // The same address twice (two SRV targets naming one host): the first, by priority order.
  backends.erase(std::unique(backends.begin(), backends.end(),
                             [](const DiscoveredBackend& a, const DiscoveredBackend& b) {
                               return a.address.url == b.address.url;
                             }),
                 backends.end());
}

bool DiscoveredSet::sameAs(const DiscoveredSet& other) const {
  if (label != other.label || backends.size() != other.backends.size()) return false;
  for (std::size_t i = 0; i < backends.size(); ++i) {
    if (!backends[i].sameAs(other.backends[i])) return false;
  }
  return true;
}

std::size_t discoveredCount(const PoolConfig& pool) {
  return static_cast<std::size_t>(
      std::count_if(pool.backends.begin(), pool.backends.end(),
                    [](const BackendConfig& b) { return !b.discovered_by.empty(); }));
}

std::vector<std::string> mergeDiscovered(Config& config, const DiscoveredPools& found) {
  std::vector<std::string> notes;
  for (PoolConfig& pool : config.pools) {
    std::erase_if(pool.backends, [](const BackendConfig& b) { return !b.discovered_by.empty(); });
    if (!pool.discover) continue;
    auto it = found.find(pool.name);
    if (it == found.end() || it->second.label != pool.discover->label()) continue;
    std::set<std::string, std::less<>> names;
    for (const BackendConfig& b : pool.backends) names.insert(b.name);
    const bool stream = !pool.discover->datagram;
    for (const DiscoveredBackend& d : it->second.backends) {
      const std::string& name = d.nameOr();
      if (names.contains(name)) {
        notes.push_back(fmt::format("pool {}: {} is also a configured backend; the file's is kept",
                                    pool.name, name));
        continue;
      }
      if (d.address.isStream() != stream ||
          (!pool.backends.empty() && pool.backends.front().address.isStream() != stream)) {
        notes.push_back(fmt::format("pool {}: {} is not a {} address; left out", pool.name, name,
                                    stream ? "stream" : "datagram"));
        continue;
      }
      if (pool.balance == balance::Algorithm::kMaglev &&
          pool.backends.size() >= pool.maglev_table_size) {
        notes.push_back(fmt::format("pool {}: {} left out: maglev_table_size {} is full", pool.name,
                                    name, pool.maglev_table_size));
        continue;
      }
      BackendConfig backend;
      backend.name = name;
      backend.address = d.address;
      backend.weight = d.weight;
      backend.backup = d.backup;
      backend.discovered_by = it->second.label;
      // The pool's agent check asks each backend's host, as for an entry of the file.
      if (pool.agent && pool.agent->port != 0) {
        backend.agent = agentOnHost(d.address, pool.agent->port);
      }
      names.insert(name);
      pool.backends.push_back(std::move(backend));
    }
  }
  return notes;
}

}  // namespace l4lb::config
