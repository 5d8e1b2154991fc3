#include "config/limits.h"

#include "balance/balancer.h"
#include "balance/flow_hash.h"
#include "base/log.h"

namespace l4lb::config {

// Built from the enums' own name functions so the lists cannot drift from the parsers.

const std::vector<std::string_view>& algorithmNames() {
  using balance::Algorithm;
  static const std::vector<std::string_view> kNames = [] {
    std::vector<std::string_view> names;
    for (Algorithm a : {Algorithm::kRoundRobin, Algorithm::kLeastConn, Algorithm::kRandomTwo,
                        Algorithm::kMaglev, Algorithm::kFirst}) {
      names.push_back(balance::algorithmName(a));
    }
    return names;
  }();
  return kNames;
}

const std::vector<std::string_view>& hashKeyNames() {
  using balance::HashKey;
  static const std::vector<std::string_view> kNames = [] {
    std::vector<std::string_view> names;
    for (HashKey k : {HashKey::kClientIp, HashKey::kClientIpPort}) {
      names.push_back(balance::hashKeyName(k));
    }
    return names;
  }();
  return kNames;
}

const std::vector<std::string_view>& logLevelNames() {
  using base::LogLevel;
  static const std::vector<std::string_view> kNames = [] {
    std::vector<std::string_view> names;
    for (LogLevel l : {LogLevel::kError, LogLevel::kWarn, LogLevel::kInfo, LogLevel::kDebug}) {
      names.push_back(base::logLevelName(l));
    }
    return names;
  }();
  return kNames;
}

}  // namespace l4lb::config
