#pragma once

#include <sys/types.h>

#include <string>

#include "base/result.h"
#include "config/config.h"

namespace l4lb::app {

// The first unix:// admin socket's path ("@name" for an abstract one), or empty when there is
// none: where a binary upgrade asks, and beside which its handoff socket goes.
[[nodiscard]] std::string unixAdminPath(const config::Config& config);

// SIGUSR2: the binary upgrade started from inside, as nginx's USR2 does: the binary now at this
// process's path (a package upgrade replaced it) is started as a child with `run -c FILE
// --upgrade-from unix://ADMIN`, so it runs in the same service (cgroup) and, with
// NotifyAccess=all, becomes the service's main process when it says READY=1 with its pid.
class SelfUpgrade {
 public:
  // Remembers the path this binary was started from, before a package upgrade can replace it.
  SelfUpgrade();

  // Starts the child. An error when it cannot be started (or one runs already).
  [[nodiscard]] base::Result<void> start(const std::string& config_path,
                                         const config::Config& config);
  // Reaps the child once it has exited, and logs how it ended. Called now and then.
  void poll();

 private:
  std::string binary_;
  pid_t child_ = -1;
};

}  // namespace l4lb::app
