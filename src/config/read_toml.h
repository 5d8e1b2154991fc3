#pragma once

#include <toml++/toml.h>

#include <string>

#include "config/draft.h"
#include "config/error_list.h"
#include "config/load_options.h"

namespace l4lb::config {

// The schema: walks a parsed TOML document into a draft, reporting wrong types, out-of-range
// values, bad durations, unknown words and unknown keys in every section as it goes.
[[nodiscard]] ConfigDraft readDraft(const toml::table& root, const std::string& source,
                                    const EndpointParser& parse, ErrorList& errors);

}  // namespace l4lb::config
