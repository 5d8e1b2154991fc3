#include "config/backend_change.h"

#include <utility>

#include "config/draft.h"
#include "config/load_options.h"
#include "config/read_agent.h"
#include "config/read_toml.h"
#include "config/table_reader.h"

namespace l4lb::config {

LoadResult withBackendAdded(const Config& running, std::size_t pool, const toml::table& fields) {
  ErrorList errors(running.source);
  const PoolConfig& before = running.pools[pool];
  // The pool as a draft: its backends passed every check when the file was read; only the
  // checks across entries run again, with the new one among them.
  PoolDraft draft;
  draft.config = before;
  draft.config.backends.clear();
  draft.backends_origin = Origin{.key = "pool." + before.name + ".backends", .pos = {}};
  draft.balance = Origin{.key = "pool." + before.name + ".balance", .pos = {}};
  for (std::size_t b = 0; b < before.backends.size(); ++b) {
    BackendDraft backend;
    backend.config = before.backends[b];
    backend.name = Origin{.key = indexKey(draft.backends_origin.key, b) + ".name", .pos = {}};
    backend.address = Origin{.key = indexKey(draft.backends_origin.key, b) + ".address", .pos = {}};
    backend.address_ok = true;
    draft.backends.push_back(std::move(backend));
  }
  const std::string key = indexKey(draft.backends_origin.key, before.backends.size());
  auto added = readBackend(fields, key, LoadOptions{}.parse_endpoint, errors);
  if (added) draft.backends.push_back(std::move(*added));
  resolveAgents(draft, errors);  // the new backend's agent, from the pool's agent table
  checkPool(draft, errors);
  if (!errors.empty())
    return LoadResult{.config = std::nullopt, .errors = std::move(errors).take(), .warnings = {}};
  Config next = running;
  next.pools[pool].backends.push_back(std::move(draft.backends.back().config));
  return LoadResult{.config = std::move(next), .errors = {}, .warnings = {}};
}

}  // namespace l4lb::config
