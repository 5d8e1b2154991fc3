#pragma once

#include <optional>
#include <span>
#include <string_view>

#include "config/config.h"
#include "config/table_reader.h"

namespace l4lb::config {

// Reads a pool's `health` table (README.md, "Health checks"): the check, its timing, and the
// options of that check only. Options of other checks, and features not built yet (role, tls,
// dns), are reported at their own key.
[[nodiscard]] std::optional<HealthConfig> readHealth(TableReader& pool, std::string_view key);

// `role` values, of a pool's health table and of one backend's override.
[[nodiscard]] std::optional<proto::Role> parseRole(std::string_view name);
[[nodiscard]] std::span<const std::string_view> roleNames();

}  // namespace l4lb::config
