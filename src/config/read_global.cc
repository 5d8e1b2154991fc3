#include "config/read_global.h"

#include <array>
#include <string_view>

#include "base/log.h"
#include "config/limits.h"
#include "config/read_run_as.h"

namespace l4lb::config {

namespace {

using namespace std::string_view_literals;

constexpr std::array kGlobalKeys = {
    "workers"sv, "log_level"sv,       "access_log"sv, "shutdown_grace"sv, "busy_poll_us"sv,
    "splice"sv,  "max_connections"sv, "user"sv,       "group"sv,          "state_file"sv};
constexpr std::array kSpliceModes = {"auto"sv, "off"sv};

std::optional<bool> parseSpliceMode(std::string_view mode) {
  if (mode == "auto") return true;
  if (mode == "off") return false;
  return std::nullopt;
}

}  // namespace

void readGlobal(const toml::table& table, ErrorList& errors, GlobalConfig& global) {
  TableReader reader(table, "global", kGlobalKeys, errors);
  if (auto workers = reader.integer("workers", 0, kMaxWorkers)) {
    global.workers = static_cast<std::uint32_t>(*workers);
  }
  if (auto level = reader.choice("log_level", base::parseLogLevel, logLevelNames())) {
    global.log_level = *level;
  }
  if (auto access_log = reader.name("access_log")) global.access_log = std::move(*access_log);
  if (auto state_file = reader.name("state_file")) global.state_file = std::move(*state_file);
  if (auto grace = reader.duration("shutdown_grace", base::Duration(0), kMaxDuration)) {
    global.shutdown_grace = *grace;
  }
  if (auto busy_poll = reader.integer("busy_poll_us", 0, kMaxBusyPollMicros)) {
    global.busy_poll_us = static_cast<std::uint32_t>(*busy_poll);
  }
  if (auto splice = reader.choice("splice", parseSpliceMode, kSpliceModes)) global.splice = *splice;
  if (auto max = reader.integer("max_connections", 0, kMaxConnections)) {
    global.max_connections = static_cast<std::uint32_t>(*max);
  }
  readRunAs(reader, global);
  reader.reportUnknownKeys();
}

}  // namespace l4lb::config
