#pragma once

#include <fmt/core.h>

#include <cstdint>
#include <optional>
#include <string_view>

namespace l4lb::base {

enum class LogLevel : std::uint8_t { kError, kWarn, kInfo, kDebug };

[[nodiscard]] std::optional<LogLevel> parseLogLevel(std::string_view name);
[[nodiscard]] std::string_view logLevelName(LogLevel level);

void setLogLevel(LogLevel level);
[[nodiscard]] bool logEnabled(LogLevel level);

// Writes one line to stderr: time, l4lb[pid] (two processes share stderr during a binary
// upgrade), level, message. One write(2) per line, so lines from several
// workers never interleave.
void logLine(LogLevel level, std::string_view message);

template <typename... Args>
void log(LogLevel level, fmt::format_string<Args...> format, Args&&... args) {
  if (logEnabled(level)) logLine(level, fmt::format(format, std::forward<Args>(args)...));
}

template <typename... Args>
void logError(fmt::format_string<Args...> format, Args&&... args) {
  log(LogLevel::kError, format, std::forward<Args>(args)...);
}
template <typename... Args>
void logWarn(fmt::format_string<Args...> format, Args&&... args) {
  log(LogLevel::kWarn, format, std::forward<Args>(args)...);
}
template <typename... Args>
void logInfo(fmt::format_string<Args...> format, Args&&... args) {
  log(LogLevel::kInfo, format, std::forward<Args>(args)...);
}
template <typename... Args>
void logDebug(fmt::format_string<Args...> format, Args&&... args) {
  log(LogLevel::kDebug, format, std::forward<Args>(args)...);
}

}  // namespace l4lb::base
