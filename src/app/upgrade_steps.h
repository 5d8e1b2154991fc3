#pragma once

// The steps of a binary upgrade that reach into the workers, for the supervisor: on the main
// thread, each posting to every worker and waiting for its answer.

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "admin/controller.h"
#include "app/upgrade_source.h"
#include "control/health_snapshot.h"
#include "upgrade/handoff_channel.h"
#include "upgrade/upgrade_plan.h"
#include "worker/serving_config.h"
#include "worker/worker.h"

namespace l4lb::app {

using WorkerList = std::vector<std::unique_ptr<worker::Worker>>;

// Old process: every listening socket, duplicated: each worker's own, and the shared Unix ones.
[[nodiscard]] std::vector<PassedSocket> gatherListenerSockets(const WorkerList& workers,
                                                              const worker::ServingConfig& serving);
void setAccepting(const WorkerList& workers, bool accepting);
// Old process: the sessions and flows of `listeners` that can move now, taken apart.
[[nodiscard]] std::vector<HandedConnection> handOffConnections(
    const WorkerList& workers, const std::vector<std::string>& listeners);

// Old process: each backend's health state and the operator's state and weight.
[[nodiscard]] std::vector<upgrade::BackendRecord> backendRecords(
    const config::Config& config, const control::HealthSnapshot* health,
    const admin::Controller* controller);
// New process: the operator's drains, disables and weights of the old process, applied again.
void applyTakenAdminStates(admin::Controller& controller,
                           const std::vector<upgrade::BackendRecord>& records);

// New process: which worker serves each listening socket taken over ([worker][listener], as
// placeListeners() left them), by the socket's SO_COOKIE.
using SocketWorkers = std::unordered_map<std::uint64_t, std::size_t>;
[[nodiscard]] SocketWorkers socketWorkers(
    const std::vector<std::vector<std::vector<base::Fd>>>& own);

// New process: a session handed over goes to a worker (round-robin: which worker serves a
// connection does not matter once it is accepted); a flow to the worker that serves the
// listening socket its client's datagrams come in on.
void deliverConnection(const WorkerList& workers, const SocketWorkers& socket_workers,
                       upgrade::ReceivedHandoff connection, std::size_t& next_worker);

}  // namespace l4lb::app
