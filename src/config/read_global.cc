#include "config/read_global.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <string_view>

#include "base/log.h"
#include "config/limits.h"
#include "config/read_run_as.h"
#include "net/tun_device.h"

namespace l4lb::config {

namespace {

using namespace std::string_view_literals;

constexpr std::array kGlobalKeys = {"workers"sv,
                                    "log_level"sv,
                                    "access_log"sv,
                                    "access_log_facility"sv,
                                    "access_log_tag"sv,
                                    "shutdown_grace"sv,
                                    "busy_poll_us"sv,
                                    "splice"sv,
                                    "max_connections"sv,
                                    "user"sv,
                                    "group"sv,
                                    "state_file"sv,
                                    "announce_interface"sv,
                                    "announce_min_backends"sv,
                                    "announce_hold_down"sv,
                                    "announce_hold_down_max"sv,
                                    "withdraw_grace"sv,
                                    "strict_secrets"sv};
constexpr std::array kSpliceModes = {"auto"sv, "off"sv};

std::optional<bool> parseSpliceMode(std::string_view mode) {
  if (mode == "auto") return true;
  if (mode == "off") return false;
  return std::nullopt;
}

// RFC 5424's facility names and numbers (6.2.1), as syslog.conf spells them.
constexpr std::array kFacilities = {
    "kern"sv,   "user"sv,     "mail"sv,    "daemon"sv,       "auth"sv,     "syslog"sv,
    "lpr"sv,    "news"sv,     "uucp"sv,    "cron"sv,         "authpriv"sv, "ftp"sv,
    "ntp"sv,    "security"sv, "console"sv, "solaris-cron"sv, "local0"sv,   "local1"sv,
    "local2"sv, "local3"sv,   "local4"sv,  "local5"sv,       "local6"sv,   "local7"sv};

std::optional<int> parseFacility(std::string_view name) {
  for (std::size_t i = 0; i < kFacilities.size(); ++i) {
    if (kFacilities[i] == name) return static_cast<int>(i);
  }
  return std::nullopt;
}

constexpr std::string_view kSyslogTarget = "syslog";
constexpr std::string_view kDefaultSyslogAddress = "unixgram:///dev/log";

// access_log = "syslog" or "syslog:unixgram:///path" or "syslog:udp://host:port".
void readSyslogTarget(TableReader& reader, GlobalConfig& global) {
  const std::string_view target = global.access_log;
  if (!target.starts_with(kSyslogTarget)) return;
  std::string_view url = target.substr(kSyslogTarget.size());
  if (url.empty()) {
    url = kDefaultSyslogAddress;
  } else if (url.front() == ':') {
    url.remove_prefix(1);
  } else {
    return;  // a file named syslog...
  }
  auto endpoint = net::parseEndpoint(url);
  if (!endpoint) {
    reader.errors().add(reader.originOf("access_log"),
                        fmt::format("syslog address \"{}\": {}", url, endpoint.error().message()));
    return;
  }
  if (endpoint->kind != net::EndpointKind::kUnixgram && endpoint->kind != net::EndpointKind::kUdp) {
    reader.errors().add(reader.originOf("access_log"),
                        fmt::format("syslog address \"{}\" must be unixgram:// or udp://", url));
    return;
  }
  global.access_log_syslog = std::move(endpoint).value();
}

// announce_interface and the timing of announcements (README.md, "Announcing VIPs").
void readAnnounceGlobal(TableReader& reader, GlobalConfig& global) {
  if (auto name = reader.name("announce_interface")) {
    if (net::validInterfaceName(*name)) {
      global.announce_interface = std::move(*name);
    } else {
      reader.errors().add(reader.originOf("announce_interface"),
                          "must be an interface name of 1 to 15 bytes, without '/', ':' or "
                          "spaces (e.g. \"l4vip0\")");
    }
  }
  if (auto min = reader.integer("announce_min_backends", 1, kMaxAnnounceMinBackends)) {
    global.announce_min_backends = static_cast<std::uint32_t>(*min);
  }
  if (auto hold = reader.duration("announce_hold_down", base::Duration(0), kMaxDuration)) {
    global.announce_hold_down = *hold;
  }
  if (auto most = reader.duration("announce_hold_down_max", base::Duration(0), kMaxDuration)) {
    global.announce_hold_down_max = *most;
  }
  if (global.announce_hold_down_max < global.announce_hold_down) {
    reader.errors().add(reader.originOf("announce_hold_down_max"),
                        fmt::format("must be at least announce_hold_down ({})",
                                    base::formatDuration(global.announce_hold_down)));
  }
  if (auto grace = reader.duration("withdraw_grace", base::Duration(0), kMaxDuration)) {
    global.withdraw_grace = *grace;
  }
  // Addresses are put on and taken off the interface all along l4lb's life, which needs
  // CAP_NET_ADMIN; a drop to another user keeps no capability.
  if (!global.announce_interface.empty() && !global.user.empty()) {
    reader.errors().add(reader.originOf("announce_interface"),
                        "cannot be used with user = \"...\": changing the interface's addresses "
                        "needs CAP_NET_ADMIN, which l4lb gives up with its privileges");
  }
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
  readSyslogTarget(reader, global);
  if (auto facility = reader.choice("access_log_facility", parseFacility, kFacilities)) {
    global.access_log_facility = *facility;
  }
  if (auto tag = reader.name("access_log_tag")) {
    // RFC 3164's TAG: what a syslog daemon takes for the program's name, up to 32 such bytes.
    const bool valid = tag->size() <= 32 && std::all_of(tag->begin(), tag->end(), [](char c) {
                         return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' ||
                                c == '_' || c == '.';
                       });
    if (valid) {
      global.access_log_tag = std::move(*tag);
    } else {
      reader.errors().add(reader.originOf("access_log_tag"),
                          "must be at most 32 letters, digits, '-', '_' or '.'");
    }
  }
  if (auto state_file = reader.name("state_file")) global.state_file = std::move(*state_file);
  if (auto strict = reader.boolean("strict_secrets")) global.strict_secrets = *strict;
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
  readAnnounceGlobal(reader, global);
  reader.reportUnknownKeys();
}

}  // namespace l4lb::config
