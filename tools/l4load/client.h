// l4load's client: opens stream connections at a fixed rate or a fixed concurrency, each
// sending and checking a seeded stream, bounded in count and time; one thread, one epoll.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sockets.h"
#include "stream.h"
#include "summary.h"

namespace l4load {

struct ClientOptions {
  std::vector<Address> targets;  // taken in turn
  std::vector<Address> sources;  // bound in turn (none: the kernel picks)
  Mode mode = Mode::kEcho;
  std::uint64_t bytes = 4096;  // payload per connection
  std::uint64_t chunk = 0;     // with gap_ms: bytes per burst (0: all at once)
  std::uint64_t gap_ms = 0;    // pause between bursts: long-lived, trickling streams
  double rate = 0;             // new connections per second (0: fixed concurrency)
  std::uint64_t concurrency = 1;
  std::uint64_t count = 1;            // connections at most
  std::uint64_t duration_ms = 10000;  // no new connection after this
  std::uint64_t connect_timeout_ms = 5000;
  std::uint64_t stall_ms = 10000;  // no byte either way for this long: a timeout
  std::uint64_t max_open = 15000;  // never more descriptors than this
  std::uint64_t seed = 1;
  std::string records_path;  // one JSON line per connection, if set
  bool proxy_v1 = false;     // open each connection with a PROXY v1 line (its own addresses)
};

// Runs to completion and returns the summary (plus the run's own figures).
nlohmann::json runClient(const ClientOptions& options);

}  // namespace l4load
