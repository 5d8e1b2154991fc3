#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace l4lb::base {

using Duration = std::chrono::milliseconds;

// Parses "250ms", "2s", "10m", "1h", also combined ("1m30s"). A bare number is rejected:
// the unit is what tells an operator whether 30 means seconds or milliseconds.
std::optional<Duration> parseDuration(std::string_view text);

// The shortest text parseDuration reads back to the same value ("1500ms", "2s", "10m").
std::string formatDuration(Duration d);

}  // namespace l4lb::base
