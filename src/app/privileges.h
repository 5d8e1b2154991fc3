#pragma once

#include <string>

#include "base/result.h"
#include "config/config.h"

namespace l4lb::app {

// [global] user and group: called once every listener and the admin API are bound and before
// any thread starts. Hands the admin API's unix:// sockets to the user (so `l4lb ctl` works as
// that user, and as root), sets the supplementary groups to the user's (initgroups), then the
// group, then the user, and checks that root cannot be regained. No user: nothing to do. Already
// running as that user (not root): logged, nothing to do. False, with `error`, when a step
// fails: l4lb must not serve with half-dropped privileges.
[[nodiscard]] base::Result<void> dropPrivileges(const config::Config& config);

// Whether dropPrivileges() changed the user: what a reload binds, it binds as that user.
[[nodiscard]] bool privilegesDropped();

}  // namespace l4lb::app
