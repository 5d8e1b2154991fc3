#pragma once

#include <string>
#include <vector>

#include "config/config.h"

namespace l4lb::config {

// What a reload from `before` to `after` changes, one short phrase each, for the reload's log
// line and `l4lb ctl reload --dry-run`: listeners and pools added or removed (by name), and for
// those in both, each setting that differs ("pool \"web\": backend b2 weight 1 -> 4",
// "pool \"web\": +backend tcp://10.0.0.3:80", "listener \"db\": idle_timeout 10m -> 5m");
// [global] settings last. Empty: nothing that is compared differs.
[[nodiscard]] std::vector<std::string> diffConfigs(const Config& before, const Config& after);

// The phrases joined with "; ", at most `limit` of them and then "... and N more".
[[nodiscard]] std::string joinChanges(const std::vector<std::string>& changes,
                                      std::size_t limit = 40);

}  // namespace l4lb::config
