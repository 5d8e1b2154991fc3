#pragma once

// [global] state_file: the operator's changes made through the admin API (drain, disable,
// weights) kept across restarts, as HAProxy's server-state-file. Saved whole on every change,
// atomically (a temporary file renamed over the old one), and read back at start.

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "config/config.h"
#include "control/admin_state.h"

namespace l4lb::admin {
class Controller;
}

namespace l4lb::admin {

// One backend as the state file keeps it.
struct SavedBackend {
  std::string pool;
  std::string backend;
  std::string address;
  control::AdminState state = control::AdminState::kEnabled;
  std::uint32_t weight = 1;
  std::uint32_t config_weight = 1;  // the config's own weight when saved
};

// The file's text (JSON) for every backend of `config` in `states`.
[[nodiscard]] std::string renderStateFile(const config::Config& config,
                                          const control::AdminSnapshot& states);
// Writes `text` to `path` through `path`.tmp, fsync'ed, renamed over it.
[[nodiscard]] base::Result<void> writeStateFile(const std::string& path, const std::string& text);
// The backends a state file keeps; none (and no error) when the file does not exist.
[[nodiscard]] base::Result<std::vector<SavedBackend>> readStateFile(const std::string& path);
// The same from the file's text (`path` names it in errors).
// At start: each saved backend whose pool, name and address the config still has gets its
// state back, and its weight when the config's own weight is the one it had when saved (an
// edited weight in the file wins). Through the API's own path, so workers and checks follow.
// Returns how many backends were restored.
std::size_t restoreState(Controller& controller, const config::Config& config,
                         const std::vector<SavedBackend>& saved);
[[nodiscard]] base::Result<std::vector<SavedBackend>> parseStateFile(const std::string& text,
                                                                     const std::string& path);

}  // namespace l4lb::admin
