#pragma once

#include "config/config.h"
#include "config/table_reader.h"

namespace l4lb::config {

// [global] `user` and `group`: the account l4lb drops to once its sockets are bound. Both are
// looked up now (getpwnam, getgrnam), so a name this machine does not know is a config error at
// `l4lb check` time, not a failed start. `group` defaults to the user's primary group; a
// `group` without `user` is an error (a half drop that keeps uid 0 would keep every privilege).
void readRunAs(TableReader& reader, GlobalConfig& global);

}  // namespace l4lb::config
