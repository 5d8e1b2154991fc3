#pragma once

// `l4lb ctl -c FILE` needs one thing from FILE: where the admin API listens. During an incident
// the file may have just been broken by an edit; ctl must still find the API then, or say
// exactly why it cannot. So [admin] is read on its own, leniently: a file that does not load
// (any error, in any table) still gives its [admin] listen, with a warning.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "config/config.h"

namespace l4lb::config {

struct AdminLookup {
  // Where the API listens (the default when the file has no [admin] table); none when it
  // cannot be told: `why_not` says why.
  std::optional<AdminConfig> admin;
  std::string why_not;
  // The errors of loading the whole file (empty when it is valid): the caller warns of them.
  std::vector<ConfigError> file_errors;
};

// From the config text `text` (named `source` in messages).
[[nodiscard]] AdminLookup findAdminConfigInText(std::string_view text, const std::string& source);
// From the config file at `path`.
[[nodiscard]] AdminLookup findAdminConfig(const std::string& path);

}  // namespace l4lb::config
