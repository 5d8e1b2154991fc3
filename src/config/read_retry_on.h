#pragma once

#include <cstdint>
#include <optional>

#include "config/table_reader.h"

namespace l4lb::config {

// A pool's retry_on: an array of "conn-failure", "empty-response", "refused-greeting", read as
// RetryOn flags; errors name the element. nullopt when absent or wrong.
[[nodiscard]] std::optional<std::uint8_t> readRetryOn(TableReader& reader);

}  // namespace l4lb::config
