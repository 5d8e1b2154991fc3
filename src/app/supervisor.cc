#include "app/supervisor.h"

#include <sched.h>
#include <unistd.h>

#include "app/server.h"

namespace l4lb::app {

unsigned defaultWorkerCount() {
  cpu_set_t set;
  CPU_ZERO(&set);
  if (sched_getaffinity(0, sizeof(set), &set) == 0) {
    int count = CPU_COUNT(&set);
    if (count > 0) return static_cast<unsigned>(count);
  }
  long online = sysconf(_SC_NPROCESSORS_ONLN);
  return online > 0 ? static_cast<unsigned>(online) : 1U;
}

int runServer(config::Config config, std::string config_path, std::string upgrade_from) {
  Server server(std::move(config), std::move(config_path), std::move(upgrade_from));
  return server.run();
}

}  // namespace l4lb::app
