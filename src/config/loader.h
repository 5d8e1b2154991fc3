#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace l4lb::config {

// Either a complete, validated config, or every error found in it (never a partial config).
struct LoadResult {
  std::optional<Config> config;
  std::vector<ConfigError> errors;
  // What is valid but unwise (a secret file others may read, an admin tcp:// listener off
  // loopback): `check` prints them, `run` and reloads log them.
  std::vector<ConfigError> warnings;

  [[nodiscard]] bool ok() const { return config.has_value(); }
};

// Reads and validates a TOML config file. Reports every error, each with file, line, column
// and key, rather than stopping at the first.
[[nodiscard]] LoadResult loadConfigFile(const std::string& path);

// Same, from text already in memory; `source` names it in errors.
[[nodiscard]] LoadResult loadConfigText(std::string_view text, const std::string& source);

// The quick mode without a file: `l4lb run --listen URL --backend URL... [--balance ALG]`.
struct QuickOptions {
  std::string listen;
  std::vector<std::string> backends;
  std::string balance = "round-robin";
  std::optional<std::uint32_t> workers;
  std::vector<std::string> admin;  // admin API unix:// sockets; none: no admin API
};

[[nodiscard]] LoadResult configFromQuickOptions(const QuickOptions& options);

}  // namespace l4lb::config
