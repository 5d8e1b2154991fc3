#pragma once

// What the supervisor prepares for a config before any worker serves it, at start and at each
// reload: the parts all workers share, the sockets of new listeners, and the states carried over
// from the config before. Everything that can fail is done here, before anything changes.

#include <memory>
#include <string>
#include <vector>

#include "app/listener_sockets.h"
#include "base/fd.h"
#include "base/result.h"
#include "config/config.h"
#include "control/health_snapshot.h"
#include "worker/serving_config.h"

namespace l4lb::app {

// `next` as the workers serve it, with its balancer plans (proxy::planPools, once per config),
// limits, backend slots and shared listening sockets: Unix stream listeners, and any listener
// with a socket the service manager passed (`activated`, per listener, at startup; see
// socket_activation.h). A listener whose bind `previous` has keeps that shared socket (so an
// activated listener is never bound again); a Unix one with a socket in `taken` (per listener:
// handed over by the old process of a binary upgrade) serves that; a new Unix one is bound, not
// listening yet (added to `unlistened`). An error naming the listener when a bind fails.
[[nodiscard]] base::Result<std::shared_ptr<worker::ServingConfig>> buildServing(
    config::Config next, const worker::ServingConfig* previous, UnlistenedSockets& unlistened,
    std::vector<base::Fd>* activated = nullptr, std::vector<base::Fd>* taken = nullptr);

// For each tcp:// and udp:// listener of `next` that `previous` does not have: one SO_REUSEPORT
// socket per worker (bindWorkerSockets: refused where another process listens), as
// sockets[worker][listener]; the stream ones not listening yet (added to `unlistened`).
[[nodiscard]] base::Result<void> bindNewListeners(const config::Config& next,
                                                  const config::Config& previous, unsigned workers,
                                                  std::vector<std::vector<base::Fd>>& sockets,
                                                  UnlistenedSockets& unlistened);

// The health states of `before`'s backends, for the backends of `next` with the same pool name,
// backend name and address; the others start as at startup. The active checks' verdict carries
// over when the pool has checks before and after; the agent's "up" or "down" when the backend's
// agent (its address and the pool's agent `send`) is the same.
[[nodiscard]] control::HealthSnapshot carryHealth(const config::Config& before,
                                                  const control::HealthSnapshot& states,
                                                  const config::Config& next);

// Settings a running l4lb cannot change: `next` takes `running`'s, and each one that differed
// is described (for the log and the API).
[[nodiscard]] std::vector<std::string> keepRestartOnlySettings(const config::Config& running,
                                                               config::Config& next);

// One line on what a reload changed (config::diffConfigs): listeners and pools added and
// removed, backends added and removed, and each setting of a listener, pool, backend or
// [global] that differs.
[[nodiscard]] std::string describeChanges(const config::Config& before, const config::Config& next);

}  // namespace l4lb::app
