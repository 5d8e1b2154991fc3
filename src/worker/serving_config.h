#pragma once

#include <memory>
#include <string>
#include <vector>

#include "base/fd.h"
#include "control/admin_state.h"
#include "control/health_snapshot.h"
#include "proxy/backend_slots.h"
#include "proxy/balancer_plans.h"
#include "worker/connection_limits.h"

namespace l4lb::worker {

// A Unix listening socket all workers share (SO_REUSEPORT does not spread Unix sockets). Held by
// every config that has its listener, so a reload that keeps the listener keeps the socket; the
// path is unlinked when the last holder lets go.
class SharedListenSocket {
 public:
  SharedListenSocket(base::Fd fd, std::string path_to_unlink)
      : fd_(std::move(fd)), path_to_unlink_(std::move(path_to_unlink)) {}
  ~SharedListenSocket();
  SharedListenSocket(const SharedListenSocket&) = delete;
  SharedListenSocket& operator=(const SharedListenSocket&) = delete;
  [[nodiscard]] int fd() const { return fd_.get(); }

 private:
  base::Fd fd_;
  std::string path_to_unlink_;  // empty: abstract or not a path
};

// One config as every worker serves it, with what the workers share for it: its balancer plans
// (Maglev tables), the process-wide limits and the Unix listening sockets. Immutable once built
// (app/serving_builder.h); a reload builds a new one. Each worker keeps its own state for it in
// a Worker::Generation.
struct ServingConfig {
  config::Config config;
  std::vector<std::shared_ptr<const balance::BalancerPlan>> plans;  // one per config.pools[i]
  std::unique_ptr<ConnectionLimits> limits;  // null: no connection limit anywhere
  std::vector<std::unique_ptr<proxy::BackendSlots>> backend_slots;  // per pool; null: no limit
  std::vector<std::shared_ptr<SharedListenSocket>> shared_sockets;  // per listener; null: none

  [[nodiscard]] int sharedFd(std::size_t listener) const {
    return shared_sockets[listener] ? shared_sockets[listener]->fd() : -1;
  }
};

// What one worker is handed to switch to a new config.
struct ServingOrder {
  std::shared_ptr<const ServingConfig> serving;
  // Per listener of the new config: this worker's own socket, bound in advance by the
  // supervisor for a tcp:// listener the old config did not have; empty otherwise.
  std::vector<base::Fd> own_sockets;
  // The states the new config's backends start in, carried over by name from the old.
  std::shared_ptr<const control::HealthSnapshot> health;  // null: no active checks
  std::shared_ptr<const control::AdminSnapshot> admin;    // null: no admin API
};

// Whether two listeners are the same socket: a reload keeps its acceptors and flows.
[[nodiscard]] bool sameBind(const config::ListenerConfig& a, const config::ListenerConfig& b);

}  // namespace l4lb::worker
