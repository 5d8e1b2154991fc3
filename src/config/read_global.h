#pragma once

#include "config/config.h"
#include "config/table_reader.h"

namespace l4lb::config {

// The [global] table: workers, log_level, access_log, shutdown_grace, busy_poll_us, splice,
// max_connections, and the account to run as (read_run_as.h).
void readGlobal(const toml::table& table, ErrorList& errors, GlobalConfig& global);

}  // namespace l4lb::config
