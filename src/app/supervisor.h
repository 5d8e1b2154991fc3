#pragma once

#include <string>

#include "config/config.h"

namespace l4lb::app {

// Runs l4lb with a validated config until SIGTERM or SIGINT: binds every listener, starts the
// workers, then on the signal stops accepting and lets open connections finish for up to
// shutdown_grace. SIGHUP (and the admin API) reload `config_path`; empty: started from the
// command line, nothing to reload. Returns the process exit code.
// `upgrade_from` (a binary upgrade, docs/upgrade.md): the running l4lb's admin socket
// (unix:///PATH), whose listening sockets and connections this process takes over.
[[nodiscard]] int runServer(config::Config config, std::string config_path,
                            std::string upgrade_from = {});

// Workers to start when the config leaves it to l4lb: one per CPU this process may run on
// (taskset and cgroup cpusets are respected).
[[nodiscard]] unsigned defaultWorkerCount();

}  // namespace l4lb::app
