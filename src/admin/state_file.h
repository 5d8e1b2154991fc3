#pragma once

// [global] state_file: the operator's changes made through the admin API (a backend's drain,
// disable and weight; a listener's drain or disable) kept across restarts, as HAProxy's
// server-state-file. Saved whole on every change, atomically (a temporary file renamed over the
// old one), and read back at start.

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

// A listener the operator drained or disabled (PATCH /api/v1/listeners/NAME): its VIP stays
// withdrawn.
struct SavedListener {
  std::string listener;
  control::AdminState state = control::AdminState::kEnabled;
};

// What a state file keeps. Files written before listeners were kept have no "listeners": they
// read as none.
struct SavedState {
  std::vector<SavedBackend> backends;
  std::vector<SavedListener> listeners;
};

// The file's text (JSON) for every backend of `config` in `states`, and the listeners drained or
// disabled.
[[nodiscard]] std::string renderStateFile(const config::Config& config,
                                          const control::AdminSnapshot& states,
                                          const std::vector<SavedListener>& listeners);
// Writes `text` to `path` through `path`.tmp, fsync'ed, renamed over it.
[[nodiscard]] base::Result<void> writeStateFile(const std::string& path, const std::string& text);
// What a state file keeps; nothing (and no error) when the file does not exist.
[[nodiscard]] base::Result<SavedState> readStateFile(const std::string& path);
// The same from the file's text (`path` names it in errors).
[[nodiscard]] base::Result<SavedState> parseStateFile(const std::string& text,
                                                      const std::string& path);

struct RestoredCounts {
  std::size_t backends = 0;
  std::size_t listeners = 0;
};
// At start: each saved listener the config still has (by name) is drained or disabled again;
// each saved backend whose pool, name and address the config still has gets its state back, and
// its weight when the config's own weight is the one it had when saved (an edited weight in the
// file wins). Through the API's own path, so workers and checks follow. Says how many of each
// were restored.
RestoredCounts restoreState(Controller& controller, const config::Config& config,
                            const SavedState& saved);
// The listeners alone (a binary upgrade whose old process had no announce interface to send
// them with); how many were restored.
std::size_t restoreListeners(Controller& controller, const std::vector<SavedListener>& saved);

}  // namespace l4lb::admin
