#pragma once

#include "config/config.h"
#include "config/table_reader.h"

namespace l4lb::config {

// [global] `user` and `group`: the account l4lb drops to once its sockets are bound. Both are
// looked up now (getpwnam, getgrnam), so a name this machine does not know is a config error at
// `l4lb check` time, not a failed start. `group` defaults to the user's primary group; a
// `group` without `user` is an error (a half drop that keeps uid 0 would keep every privilege).
void readRunAs(TableReader& reader, GlobalConfig& global);

// A Unix listener's `mode` (an octal string, "0660"), `user` and `group` (names, or numeric ids),
// the socket file's mode and owner; looked up now, as readRunAs does. Whether the listener has a
// file at all is checked with its address (KeyScope::kUnixFile).
void readSocketFile(TableReader& reader, net::SocketFile& file);

}  // namespace l4lb::config
