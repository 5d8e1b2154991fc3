#pragma once

// What the new process of a binary upgrade makes of what the old one sent, before anything
// serves: where each listening socket goes, and the backends' states for its own config. Pure:
// no system call, so it is unit-tested on its own.

#include <string>
#include <vector>

#include "base/fd.h"
#include "config/config.h"
#include "control/health_snapshot.h"
#include "upgrade/handoff_channel.h"
#include "upgrade/handoff_message.h"

namespace l4lb::upgrade {

// Where each socket of the old process goes.
struct TakenListeners {
  std::vector<base::Fd> shared;                         // per listener: one all workers serve
  std::vector<std::vector<std::vector<base::Fd>>> own;  // [worker][listener]
  std::vector<std::string> names;                       // the listeners served with them
  std::vector<std::string> dropped;                     // not in this config (closed)
};
// A socket goes to the listener of the same name and bind URL. A shared one (kSharedSocket:
// Unix stream, or passed by the service manager) is shared here too; a listener's per-worker
// sockets (tcp://, udp://) go round the workers in the order they came, so the same worker
// count keeps each with the worker of the same number; unixgram:// goes to worker 0.
[[nodiscard]] TakenListeners placeListeners(std::vector<ReceivedHandoff> received,
                                            const config::Config& config, unsigned workers);

// The health states of the old process's backends for this config's backends of the same pool,
// name and address; the others start as at startup. Pools with neither checks nor an agent stay
// empty. The agent's "down" carries over only in pools without active checks (see the .cc).
[[nodiscard]] control::HealthSnapshot takenHealth(const std::vector<BackendRecord>& records,
                                                  const config::Config& config);

}  // namespace l4lb::upgrade
