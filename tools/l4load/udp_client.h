// l4load's UDP client: flows of request/response pairs, one outstanding at a time. Each
// datagram carries its flow's seed and sequence number, so a reply that belongs to another
// client, a corrupt one, and a flow whose replies came from more than one backend are counted.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <vector>

#include "sockets.h"

namespace l4load {

struct UdpClientOptions {
  std::vector<Address> targets;
  std::vector<Address> sources;
  std::uint64_t flows = 1;
  std::uint64_t concurrency = 1;
  std::uint64_t requests = 10;  // per flow
  std::uint64_t bytes = 64;     // payload per datagram
  std::uint64_t gap_ms = 0;     // between a reply and the next request
  std::uint64_t reply_timeout_ms = 1000;
  std::uint64_t duration_ms = 10000;
  std::uint64_t seed = 1;
};

nlohmann::json runUdpClient(const UdpClientOptions& options);

}  // namespace l4load
