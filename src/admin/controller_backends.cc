// The admin API's changes to a pool's list of backends: each becomes a new config, checked by
// config/ as the file is, and applied as a reload is (hooks.apply_config).

#include <fmt/format.h>

#include <algorithm>

#include "admin/controller.h"
#include "config/backend_change.h"

namespace l4lb::admin {

using nlohmann::json;

ApiReply Controller::addBackend(std::string_view pool_name, std::string_view body) {
  if (!hooks_.apply_config) return errorReply(400, "changing backends is not available here");
  json parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (parsed.is_discarded() || !parsed.is_object()) {
    return errorReply(400,
                      "the body must be a JSON object like {\"address\": "
                      "\"tcp://10.0.0.5:6379\", \"name\": \"cache-3\"}");
  }
  // The object's keys become a backends entry, which config/ reads and checks as it does the
  // file's: same keys, types, limits and messages.
  toml::table fields;
  for (const auto& [key, value] : parsed.items()) {
    if (value.is_string()) {
      fields.insert(key, value.get<std::string>());
    } else if (value.is_boolean()) {
      fields.insert(key, value.get<bool>());
    } else if (value.is_number_integer()) {
      fields.insert(key, value.get<std::int64_t>());
    } else if (value.is_number()) {
      fields.insert(key, value.get<double>());
    } else {
      return errorReply(400, fmt::format("\"{}\" must be a string, number or boolean", key));
    }
  }
  std::lock_guard change(change_mutex_);
  config::Config next;
  std::string name;
  {
    std::lock_guard lock(mutex_);
    auto pool = findPool(pool_name);
    if (!pool) return errorReply(404, fmt::format("no pool \"{}\"", pool_name));
    config::LoadResult added = config::withBackendAdded(*config_, *pool, fields);
    if (!added.ok()) {
      std::string message;
      for (const auto& error : added.errors) {
        if (!message.empty()) message += "; ";
        message += error.key.empty() ? error.message : error.key + ": " + error.message;
      }
      return errorReply(400, std::move(message));
    }
    next = std::move(*added.config);
    name = next.pools[*pool].backends.back().name;
  }
  const std::string pool = std::string(pool_name);
  ReloadOutcome outcome = hooks_.apply_config(
      std::move(next), fmt::format("pool \"{}\": backend {} added (admin API)", pool, name));
  if (!outcome.ok) return errorReply(400, outcome.message);
  std::lock_guard lock(mutex_);
  const auto index = findPool(pool);
  if (!index) return errorReply(404, fmt::format("no pool \"{}\"", pool));
  const auto& backends = config_->pools[*index].backends;
  for (std::uint32_t b = 0; b < backends.size(); ++b) {
    if (backends[b].name == name) return ApiReply{200, backendJson(*index, b)};
  }
  return errorReply(404, fmt::format("pool \"{}\" has no backend \"{}\"", pool, name));
}

ApiReply Controller::removeBackend(std::string_view pool_name, std::string_view backend_name) {
  if (!hooks_.apply_config) return errorReply(400, "changing backends is not available here");
  std::lock_guard change(change_mutex_);
  config::Config next;
  {
    std::lock_guard lock(mutex_);
    auto pool = findPool(pool_name);
    if (!pool) return errorReply(404, fmt::format("no pool \"{}\"", pool_name));
    next = *config_;
    auto& backends = next.pools[*pool].backends;
    auto it = std::find_if(backends.begin(), backends.end(),
                           [&](const auto& backend) { return backend.name == backend_name; });
    if (it == backends.end()) {
      return errorReply(404,
                        fmt::format("pool \"{}\" has no backend \"{}\"", pool_name, backend_name));
    }
    if (backends.size() == 1) {
      return errorReply(400, fmt::format("\"{}\" is the last backend of pool \"{}\": drain or "
                                         "disable it instead",
                                         backend_name, pool_name));
    }
    backends.erase(it);
  }
  ReloadOutcome outcome = hooks_.apply_config(
      std::move(next),
      fmt::format("pool \"{}\": backend {} removed (admin API)", pool_name, backend_name));
  if (!outcome.ok) return errorReply(400, outcome.message);
  return ApiReply{200, json{{"removed", std::string(backend_name)},
                            {"pool", std::string(pool_name)},
                            {"message", outcome.message}}};
}

}  // namespace l4lb::admin
