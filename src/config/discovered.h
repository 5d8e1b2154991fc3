#pragma once

// Backends found by a pool's discover source, and how they join a config generation. Each
// generation is the file's config (or the admin API's change of it) with the last good
// discovered set of each pool merged in, so a reload keeps them and a discovery change is one
// more generation through the reload path (README.md, "Discovery").

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "config/config.h"
#include "net/endpoint.h"

namespace l4lb::config {

struct DiscoveredBackend {
  net::Endpoint address;
  std::uint32_t weight = 1;
  bool backup = false;  // SRV: a record of a priority above the lowest
  std::string name;     // etcd values may name it; empty: its address's url

  [[nodiscard]] const std::string& nameOr() const { return name.empty() ? address.url : name; }
  [[nodiscard]] bool sameAs(const DiscoveredBackend& other) const {
    return address.url == other.address.url && weight == other.weight && backup == other.backup &&
           name == other.name;
  }
};

// One answer's backends, in address order (so equal sets compare equal whatever the order of
// the records).
struct DiscoveredSet {
  std::string label;  // the source's DiscoverConfig::label()
  std::vector<DiscoveredBackend> backends;

  void sort();
  [[nodiscard]] bool sameAs(const DiscoveredSet& other) const;
};

// What the admin API shows of a pool's discover source.
struct DiscoveryStatus {
  std::string pool;
  std::string label;
  bool synced = false;  // an authoritative answer has been judged since the source started
  // The last answer's verdict: "starting" (none yet), "unchanged", "pending", "held-empty",
  // "held-removals", "error".
  std::string state = "starting";
  std::string message;       // why held, pending or failing; empty when all is well
  std::size_t backends = 0;  // discovered backends applied
  // etcd: the store revision the last answer reflects (equal revisions, equal sets: instances
  // can be compared); 0 for DNS.
  std::int64_t revision = 0;
};

// By pool name.
using DiscoveredPools = std::map<std::string, DiscoveredSet, std::less<>>;

// Replaces the discovered backends of every pool of `config` by those `found` holds for it, when
// the pool still has a discover source with the same label (a pool whose source changed or went
// starts again from its file's backends). A discovered backend is left out, with a note in the
// returned list, when a configured backend has its name, when it is not the pool's kind (stream
// or datagram), or when the pool's maglev table has no room for it. Pure: unit-tested.
[[nodiscard]] std::vector<std::string> mergeDiscovered(Config& config,
                                                       const DiscoveredPools& found);

// How many backends of `pool` came from its discover source.
[[nodiscard]] std::size_t discoveredCount(const PoolConfig& pool);

}  // namespace l4lb::config
