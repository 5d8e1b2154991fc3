#pragma once

#include "config/config.h"
#include "config/load_options.h"
#include "config/table_reader.h"

namespace l4lb::config {

// The [admin] table: `listen` (unix:// and tcp:// URLs; default kDefaultAdminListen; [] turns the
// API off) and `token_file`, which every tcp:// listener needs: over TCP any local user could
// otherwise change backend states.
void readAdmin(const toml::table& table, const EndpointParser& parse, ErrorList& errors,
               AdminConfig& admin);

// The default when the file has no [admin] table.
[[nodiscard]] AdminConfig defaultAdminConfig();

}  // namespace l4lb::config
