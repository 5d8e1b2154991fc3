#pragma once

#include <optional>
#include <string_view>

#include "config/discover_config.h"
#include "config/table_reader.h"

namespace l4lb::config {

// Reads a pool's `discover` table (README.md, "Discovery"): either `dns` (with type, port,
// server) or `etcd` (with prefix), and the shared keys interval, min_interval, timeout, settle,
// max_removed and protocol. Every problem is reported; nullopt when the table is unusable.
[[nodiscard]] std::optional<DiscoverConfig> readDiscover(TableReader& pool, std::string_view key);

// "50%" or "3": a share of the pool's discovered backends, or a count. Nullopt when malformed.
[[nodiscard]] std::optional<RemovalCap> parseRemovalCap(std::string_view text);

}  // namespace l4lb::config
