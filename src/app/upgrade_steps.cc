#include "app/upgrade_steps.h"

#include <fcntl.h>

#include <chrono>
#include <cstring>

#include "app/worker_job.h"
#include "base/log.h"
#include "net/socket.h"

namespace l4lb::app {

namespace {

// Runs `job` on `w`'s thread and waits for its result; nothing (logged) if it did not answer,
// and then it never runs (worker_job.h).
template <typename Result, typename Job>
Result onWorker(worker::Worker& w, Job job) {
  worker::Worker* self = &w;  // the supervisor's workers outlive every job posted to them
  auto answer = runOnLoop<Result>(
      w.loop(), [self, job]() mutable { return job(*self); }, std::chrono::seconds(10));
  if (!answer) {
    base::logError("upgrade: worker {} did not answer", w.id());
    return Result{};
  }
  return std::move(*answer);
}

}  // namespace

std::vector<PassedSocket> gatherListenerSockets(const WorkerList& workers,
                                                const worker::ServingConfig& serving) {
  std::vector<PassedSocket> out;
  for (const auto& w : workers) {
    auto sockets = onWorker<std::vector<worker::Worker::ListenerSocket>>(
        *w, [](worker::Worker& self) { return self.listenerSockets(); });
    for (auto& socket : sockets) {
      out.push_back(
          {upgrade::ListenerHandoff{socket.name, socket.bind, w->id()}, std::move(socket.fd)});
    }
  }
  const auto& listeners = serving.config.listeners;
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    if (serving.sharedFd(i) < 0) continue;
    base::Fd copy(::fcntl(serving.sharedFd(i), F_DUPFD_CLOEXEC, 0));
    if (!copy) {
      base::logError("upgrade: listener \"{}\": cannot duplicate its socket: {}", listeners[i].name,
                     std::strerror(errno));
      continue;
    }
    out.push_back(
        {upgrade::ListenerHandoff{listeners[i].name, listeners[i].bind.url, upgrade::kSharedSocket},
         std::move(copy)});
  }
  return out;
}

void setAccepting(const WorkerList& workers, bool accepting) {
  for (const auto& w : workers) {
    (void)onWorker<bool>(*w, [accepting](worker::Worker& self) {
      self.setAccepting(accepting);
      return true;
    });
  }
}

std::vector<HandedConnection> handOffConnections(const WorkerList& workers,
                                                 const std::vector<std::string>& listeners) {
  // Bounded per worker and sweep, so a worker with many sessions keeps serving in between.
  constexpr std::size_t kPerSweep = 512;
  std::vector<HandedConnection> out;
  for (const auto& w : workers) {
    auto handed = onWorker<std::vector<worker::Worker::HandedSession>>(
        *w,
        [listeners](worker::Worker& self) { return self.handOffSessions(listeners, kPerSweep); });
    for (auto& session : handed) {
      auto& connection = out.emplace_back();
      connection.message.emplace<upgrade::SessionHandoff>(std::move(session.state));
      connection.fds = std::move(session.fds);
    }
    auto flows = onWorker<std::vector<proxy::DatagramListener::HandedFlow>>(
        *w, [listeners](worker::Worker& self) { return self.handOffFlows(listeners); });
    for (auto& flow : flows) {
      auto& connection = out.emplace_back();
      connection.message.emplace<upgrade::FlowHandoff>(std::move(flow.state));
      connection.fds.push_back(std::move(flow.upstream));
    }
  }
  return out;
}

std::vector<upgrade::BackendRecord> backendRecords(const config::Config& config,
                                                   const control::HealthSnapshot* health,
                                                   const admin::Controller* controller) {
  std::vector<upgrade::BackendRecord> records;
  for (std::uint32_t p = 0; p < config.pools.size(); ++p) {
    const auto& pool = config.pools[p];
    for (std::uint32_t b = 0; b < pool.backends.size(); ++b) {
      upgrade::BackendRecord record{.pool = pool.name,
                                    .backend = pool.backends[b].name,
                                    .address = pool.backends[b].address.url,
                                    .health = 0,
                                    .admin = 0,
                                    .weight = pool.backends[b].weight,
                                    .reason = {}};
      if (health != nullptr && p < health->pools.size() && b < health->pools[p].size()) {
        record.health = static_cast<std::uint8_t>(health->pools[p][b]);
        if (b < health->changes[p].size()) record.reason = health->changes[p][b].reason;
      }
      if (controller != nullptr) {
        record.admin = static_cast<std::uint8_t>(controller->stateOf(p, b));
        record.weight = controller->weightOf(p, b);
      }
      records.push_back(std::move(record));
    }
  }
  return records;
}

void applyTakenAdminStates(admin::Controller& controller,
                           const std::vector<upgrade::BackendRecord>& records) {
  // Through the API's own path, so the workers, the checks and the API's view all follow.
  for (const auto& record : records) {
    admin::BackendChange change;
    if (record.admin != static_cast<std::uint8_t>(control::AdminState::kEnabled)) {
      change.state = static_cast<control::AdminState>(record.admin);
    }
    change.weight = record.weight;
    auto reply = controller.changeBackend(record.pool, record.backend, change);
    if (reply.status != 200 && reply.status != 404) {
      base::logWarn("upgrade: backend {} of pool {}: the old process's state not applied: {}",
                    record.backend, record.pool, reply.body.dump());
    }
  }
}

SocketWorkers socketWorkers(const std::vector<std::vector<std::vector<base::Fd>>>& own) {
  SocketWorkers out;
  for (std::size_t w = 0; w < own.size(); ++w) {
    for (const auto& sockets : own[w]) {
      for (const auto& socket : sockets) {
        if (const std::uint64_t cookie = net::socketCookie(socket.get()); cookie != 0) {
          out[cookie] = w;
        }
      }
    }
  }
  return out;
}

void deliverConnection(const WorkerList& workers, const SocketWorkers& socket_workers,
                       upgrade::ReceivedHandoff connection, std::size_t& next_worker) {
  if (auto* flow = std::get_if<upgrade::FlowHandoff>(&connection.message)) {
    if (connection.fds.empty()) return;
    // The worker serving the socket it came in on; from a sender without cookies, old worker
    // N's, which placeListeners() gave to worker N % workers.
    const auto found = socket_workers.find(flow->socket_cookie);  // never holds cookie 0
    const std::size_t index = found != socket_workers.end() && found->second < workers.size()
                                  ? found->second
                                  : flow->worker % workers.size();
    worker::Worker* w = workers[index].get();
    auto state = std::make_shared<upgrade::FlowHandoff>(std::move(*flow));
    auto fd = std::make_shared<base::Fd>(std::move(connection.fds[0]));
    w->loop().post([w, state, fd] { w->takeOverFlow(*state, std::move(*fd)); });
    return;
  }
  auto* session = std::get_if<upgrade::SessionHandoff>(&connection.message);
  if (session == nullptr) return;
  worker::Worker* w = workers[next_worker++ % workers.size()].get();
  auto state = std::make_shared<upgrade::SessionHandoff>(std::move(*session));
  auto fds = std::make_shared<std::vector<base::Fd>>(std::move(connection.fds));
  w->loop().post([w, state, fds] { w->takeOverSession(std::move(*state), std::move(*fds)); });
}

}  // namespace l4lb::app
