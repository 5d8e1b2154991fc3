#include "admin/state_file.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>

#include "admin/admin_state.h"
#include "admin/controller.h"
#include "admin/router.h"
#include "base/fd.h"

namespace l4lb::admin {

namespace {

using nlohmann::json;

constexpr int kFormatVersion = 1;

std::optional<control::AdminState> stateNamed(const std::string& name) {
  for (const auto state : {control::AdminState::kEnabled, control::AdminState::kDraining,
                           control::AdminState::kDisabled}) {
    if (adminStateName(state) == name) return state;
  }
  return std::nullopt;
}

}  // namespace

std::string renderStateFile(const config::Config& config, const control::AdminSnapshot& states,
                            const std::vector<SavedListener>& listeners) {
  json backends = json::array();
  for (std::size_t p = 0; p < config.pools.size() && p < states.states.size(); ++p) {
    const auto& pool = config.pools[p];
    for (std::size_t b = 0; b < pool.backends.size() && b < states.states[p].size(); ++b) {
      backends.push_back(json{{"pool", pool.name},
                              {"backend", pool.backends[b].name},
                              {"address", pool.backends[b].address.url},
                              {"state", adminStateName(states.states[p][b])},
                              {"weight", states.weights[p][b]},
                              {"config_weight", pool.backends[b].weight}});
    }
  }
  json listener_states = json::array();
  for (const SavedListener& listener : listeners) {
    if (listener.state == control::AdminState::kEnabled) continue;  // the default: not kept
    listener_states.push_back(
        json{{"listener", listener.listener}, {"state", adminStateName(listener.state)}});
  }
  // Still version 1: "listeners" is one more key, which older readers ignore.
  return json{{"l4lb_state", kFormatVersion},
              {"backends", std::move(backends)},
              {"listeners", std::move(listener_states)}}
             .dump(1) +
         "\n";
}

base::Result<void> writeStateFile(const std::string& path, const std::string& text) {
  const std::string temporary = path + ".tmp";
  base::Fd fd(::open(temporary.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600));
  if (!fd) return base::lastError("open").within(temporary);
  std::size_t written = 0;
  while (written < text.size()) {
    const ssize_t n = ::write(fd.get(), text.data() + written, text.size() - written);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return base::lastError("write").within(temporary);
    written += static_cast<std::size_t>(n);
  }
  // On disk before the rename makes it the state: a crash leaves the old file or the new one.
  if (::fsync(fd.get()) != 0) return base::lastError("fsync").within(temporary);
  fd.reset();
  if (::rename(temporary.c_str(), path.c_str()) != 0) {
    return base::lastError("rename").within(temporary + " -> " + path);
  }
  return {};
}

base::Result<SavedState> parseStateFile(const std::string& text, const std::string& path) {
  const json parsed = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object() ||
      parsed.value("l4lb_state", 0) != kFormatVersion || !parsed.contains("backends") ||
      !parsed["backends"].is_array()) {
    return base::failure(
        fmt::format("{}: not an l4lb state file (version {})", path, kFormatVersion));
  }
  SavedState saved;
  for (const auto& entry : parsed["backends"]) {
    if (!entry.is_object()) continue;
    SavedBackend backend;
    backend.pool = entry.value("pool", "");
    backend.backend = entry.value("backend", "");
    backend.address = entry.value("address", "");
    const auto state = stateNamed(entry.value("state", ""));
    const json weight = entry.value("weight", json(nullptr));
    const json config_weight = entry.value("config_weight", json(nullptr));
    if (backend.pool.empty() || backend.backend.empty() || !state || !weight.is_number_unsigned() ||
        !config_weight.is_number_unsigned()) {
      return base::failure(
          fmt::format("{}: a backend entry is incomplete: {}", path, entry.dump()));
    }
    backend.state = *state;
    backend.weight = weight.get<std::uint32_t>();
    backend.config_weight = config_weight.get<std::uint32_t>();
    saved.backends.push_back(std::move(backend));
  }
  if (!parsed.contains("listeners")) return saved;  // written before listeners were kept
  if (!parsed["listeners"].is_array()) {
    return base::failure(fmt::format("{}: \"listeners\" is not a list", path));
  }
  for (const auto& entry : parsed["listeners"]) {
    const json name = entry.is_object() ? entry.value("listener", json(nullptr)) : json(nullptr);
    const auto state = entry.is_object() ? stateNamed(entry.value("state", ""))
                                         : std::optional<control::AdminState>();
    if (!name.is_string() || name.get<std::string>().empty() || !state) {
      return base::failure(
          fmt::format("{}: a listener entry is incomplete: {}", path, entry.dump()));
    }
    saved.listeners.push_back(SavedListener{name.get<std::string>(), *state});
  }
  return saved;
}

std::size_t restoreListeners(Controller& controller, const std::vector<SavedListener>& saved) {
  std::size_t restored = 0;
  for (const SavedListener& entry : saved) {
    if (controller.restoreListenerState(entry.listener, entry.state,
                                        "restored from the state file")) {
      ++restored;
    }
  }
  return restored;
}

RestoredCounts restoreState(Controller& controller, const config::Config& config,
                            const SavedState& saved) {
  RestoredCounts counts;
  // The listeners first: each backend restored saves the file, which then keeps them too.
  counts.listeners = restoreListeners(controller, saved.listeners);
  for (const SavedBackend& entry : saved.backends) {
    const config::BackendConfig* found = nullptr;
    for (const auto& pool : config.pools) {
      if (pool.name != entry.pool) continue;
      for (const auto& backend : pool.backends) {
        if (backend.name == entry.backend && backend.address.url == entry.address) {
          found = &backend;
        }
      }
    }
    if (found == nullptr) continue;
    BackendChange change;
    if (entry.state != control::AdminState::kEnabled) change.state = entry.state;
    if (entry.weight != found->weight && entry.config_weight == found->weight &&
        entry.weight >= 1 && entry.weight <= kMaxAdminWeight) {
      change.weight = entry.weight;
    }
    if (!change.state && !change.weight) continue;
    const ApiReply reply = controller.changeBackend(entry.pool, entry.backend, change);
    if (reply.status == 200) ++counts.backends;
  }
  return counts;
}

base::Result<SavedState> readStateFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    if (errno == ENOENT) return SavedState{};
    return base::lastError("open").within(path);
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parseStateFile(text.str(), path);
}

}  // namespace l4lb::admin
