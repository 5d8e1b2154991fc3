#pragma once

// A dns discover source (README.md, "Discovery"): one question to the configured server (or
// /etc/resolv.conf's) through c-ares, its answer as discovered backends. SRV: each record's
// target is resolved with A and AAAA questions (c-ares 1.18's SRV parser does not expose the
// additional section, nor the SRV records' TTL: the refresh follows the targets' address TTLs);
// the records of the lowest priority are the primaries, the others `backup`; a record's weight
// is its backends' weight (0 counts as 1, above 10000 as 10000). A and AAAA: each address at the
// configured port, weight 1.

#include <atomic>
#include <optional>

#include "base/duration.h"
#include "config/discover_config.h"
#include "discover/answer_gate.h"

namespace l4lb::discover {

struct DnsResult {
  Answer answer;
  std::optional<base::Duration> ttl;  // the shortest TTL of the records used, when any
};

// Asks once and waits for the whole answer, at most about 2 * config.timeout (the question, then
// for SRV the targets' addresses), or until `stop` is set. Blocking: the discovery thread's, never
// a worker's.
[[nodiscard]] DnsResult askDns(const config::DiscoverConfig& config, const std::atomic<bool>& stop);

// The backend weight of an SRV weight.
[[nodiscard]] std::uint32_t srvWeight(unsigned short weight);

}  // namespace l4lb::discover
