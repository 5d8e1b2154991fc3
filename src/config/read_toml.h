#pragma once

#include <toml++/toml.h>

#include <optional>
#include <string>

#include "config/draft.h"
#include "config/error_list.h"
#include "config/load_options.h"

namespace l4lb::config {

// The schema: walks a parsed TOML document into a draft, reporting wrong types, out-of-range
// values, bad durations, unknown words and unknown keys in every section as it goes.
[[nodiscard]] ConfigDraft readDraft(const toml::table& root, const std::string& source,
                                    const EndpointParser& parse, ErrorList& errors);

// One backend of a pool's `backends`, named `key` in errors ("pool.NAME.backends[N]"): its
// keys, their types and ranges (config/limits.h). Also the admin API's add-backend, so a backend
// added at run time passes exactly the checks of one written in the file.
[[nodiscard]] std::optional<BackendDraft> readBackend(const toml::node& node,
                                                      const std::string& key,
                                                      const EndpointParser& parse,
                                                      ErrorList& errors);

}  // namespace l4lb::config
