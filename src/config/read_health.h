#pragma once

#include <optional>

#include "config/config.h"
#include "config/table_reader.h"

namespace l4lb::config {

// Reads a pool's `health` table (README.md, "Health checks"): the check, its timing, and the
// options of that check only. Options of other checks, and features not built yet (role, tls,
// dns), are reported at their own key.
[[nodiscard]] std::optional<HealthConfig> readHealth(TableReader& pool, std::string_view key);

}  // namespace l4lb::config
