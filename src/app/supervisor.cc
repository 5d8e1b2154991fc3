#include "app/supervisor.h"

#include <fmt/format.h>
#include <sched.h>
#include <signal.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <string>
#include <vector>

#include "admin/admin_server.h"
#include "admin/controller.h"
#include "admin/file_digest.h"
#include "base/fd.h"
#include "base/log.h"
#include "health/health_checker.h"
#include "io/clock.h"
#include "net/socket.h"
#include "proxy/access_log.h"
#include "proxy/backend_slots.h"
#include "proxy/datagram_stats.h"
#include "proxy/end_reason.h"
#include "worker/connection_limits.h"
#include "worker/worker.h"

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

namespace {

// Unix listeners: one socket for all workers (SO_REUSEPORT does not apply to them).
struct SharedListeners {
  std::vector<base::Fd> owned;
  std::vector<int> fds;
  std::vector<std::string> paths_to_unlink;

  ~SharedListeners() {
    owned.clear();
    for (const auto& path : paths_to_unlink) ::unlink(path.c_str());
  }
};

bool bindSharedListeners(const config::Config& config, SharedListeners& shared) {
  for (const auto& listener : config.listeners) {
    // Datagram listeners bind in their workers (net/datagram_socket.h).
    if (listener.bind.family() != AF_UNIX || listener.isDatagram()) {
      shared.owned.emplace_back();
      shared.fds.push_back(-1);
      continue;
    }
    auto bound = net::listenStream(listener.bind, net::ListenOptions{listener.backlog, false});
    if (!bound) {
      base::logError("listener \"{}\" ({}): {}", listener.name, listener.bind.url,
                     bound.error().message());
      return false;
    }
    shared.fds.push_back(bound.value().get());
    shared.owned.push_back(std::move(bound.value()));
    if (listener.bind.kind == net::EndpointKind::kUnix) {
      const auto* sun = reinterpret_cast<const sockaddr_un*>(&listener.bind.addr);
      shared.paths_to_unlink.emplace_back(sun->sun_path);
    }
  }
  return true;
}

bool allFinished(const std::vector<std::unique_ptr<worker::Worker>>& workers) {
  for (const auto& w : workers) {
    if (!w->finished()) return false;
  }
  return true;
}

}  // namespace

int runServer(std::shared_ptr<const proxy::Snapshot> snapshot) {
  const auto& config = snapshot->config;
  base::setLogLevel(config.global.log_level);

  // Signals are taken synchronously by this thread alone; workers never see them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  sigaddset(&signals, SIGUSR1);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  ::signal(SIGPIPE, SIG_IGN);

  auto access_log = proxy::AccessLog::open(config.global.access_log);
  if (!access_log) {
    base::logError("global.access_log \"{}\": {}", config.global.access_log,
                   access_log.error().message());
    return 1;
  }

  SharedListeners shared;
  if (!bindSharedListeners(config, shared)) return 1;

  const unsigned worker_count =
      config.global.workers != 0 ? config.global.workers : defaultWorkerCount();
  std::vector<std::uint32_t> listener_max;
  bool any_limit = config.global.max_connections > 0;
  for (const auto& listener : config.listeners) {
    listener_max.push_back(listener.max_connections);
    any_limit |= listener.max_connections > 0;
  }
  worker::ConnectionLimits limits(config.global.max_connections, listener_max);
  std::vector<std::unique_ptr<proxy::BackendSlots>> backend_slots;
  for (const auto& pool : config.pools) {
    backend_slots.push_back(
        proxy::BackendSlots::wanted(pool) ? std::make_unique<proxy::BackendSlots>(pool) : nullptr);
  }
  std::vector<std::unique_ptr<worker::Worker>> workers;
  for (unsigned i = 0; i < worker_count; ++i) {
    workers.push_back(
        std::make_unique<worker::Worker>(i, snapshot, access_log.value(), shared.fds));
    if (any_limit) workers.back()->setConnectionLimits(&limits);
    workers.back()->setBackendSlots(&backend_slots);
    workers.back()->setWorkerCount(worker_count);
    std::string error;
    if (!workers.back()->init(error)) {
      base::logError("{}", error);
      return 1;
    }
  }
  for (const auto& listener : config.listeners) {
    // unixgram:// and mq:// listeners are served by worker 0 alone (worker/worker.h).
    const bool one_worker = listener.isDatagram() && listener.bind.kind != net::EndpointKind::kUdp;
    base::logInfo("listener \"{}\" listening on {} (pool \"{}\", workers: {})", listener.name,
                  listener.bind.url, listener.pool, one_worker ? 1U : worker_count);
  }
  std::vector<worker::Worker*> targets;
  for (auto& w : workers) targets.push_back(w.get());
  // Active health checks run on their own thread; each state change reaches every worker as a
  // posted snapshot. Stopped (and joined) before the workers go away.
  std::unique_ptr<health::HealthChecker> checker;
  // The admin API: its own threads; an operator's change reaches every worker the same way.
  // Stopped before the health checker and the workers it reads from.
  std::unique_ptr<admin::Controller> controller;
  std::unique_ptr<admin::AdminServer> admin_server;
  if (!config.admin.listen.empty()) {
    admin::StartInfo info{.version = L4LB_VERSION,
                          .workers = worker_count,
                          .config_sha256 = admin::fileSha256(config.source),
                          .started_ms = io::monotonicMillis()};
    admin::ControllerHooks hooks;
    hooks.publish = [targets](std::shared_ptr<const admin::AdminSnapshot> change) {
      for (worker::Worker* w : targets) {
        w->loop().post([w, change] { w->applyAdmin(change); });
      }
    };
    hooks.pause_checks = [&checker](std::uint32_t pool, std::uint32_t backend, bool paused) {
      if (checker) checker->setPaused(pool, backend, paused);
    };
    hooks.totals = [targets](std::uint32_t pool, std::uint32_t backend) {
      admin::BackendTotals totals;
      for (const worker::Worker* w : targets) {
        const auto& counters = w->backendCounters(pool, backend);
        totals.active += counters.active.get();
        totals.total += counters.total.get();
        totals.failures += counters.failures.get();
      }
      return totals;
    };
    controller = std::make_unique<admin::Controller>(config, std::move(info), std::move(hooks));
    admin_server = std::make_unique<admin::AdminServer>(config.admin, *controller);
    std::string error;
    if (!admin_server->bind(error)) {
      base::logError("{}", error);
      return 1;
    }
  }
  if (health::HealthChecker::wanted(config)) {
    admin::Controller* admin_view = controller.get();
    checker = std::make_unique<health::HealthChecker>(
        config, [targets, admin_view](std::shared_ptr<const health::HealthSnapshot> states) {
          if (admin_view) admin_view->onHealth(states);
          for (worker::Worker* w : targets) {
            w->loop().post([w, states] { w->applyHealth(states); });
          }
        });
    std::string error;
    if (!checker->init(error)) {
      base::logError("{}", error);
      return 1;
    }
    checker->start();
  }
  for (auto& w : workers) w->start();
  if (admin_server) admin_server->start();

  bool draining = false;
  bool aborted = false;
  std::int64_t drain_deadline = 0;
  while (!(draining && allFinished(workers))) {
    timespec wait{0, 100'000'000};
    int signal_number = sigtimedwait(&signals, nullptr, &wait);
    std::int64_t now = io::monotonicMillis();
    if (signal_number == SIGTERM || signal_number == SIGINT) {
      if (!draining) {
        draining = true;
        drain_deadline = now + config.global.shutdown_grace.count();
        base::logInfo("received {}: no longer accepting; waiting up to {} for open connections",
                      signal_number == SIGTERM ? "SIGTERM" : "SIGINT",
                      base::formatDuration(config.global.shutdown_grace));
        if (checker) checker->stop();
        for (auto& w : workers) w->drain();
      } else if (!aborted) {
        base::logInfo("second signal: closing open connections now");
        drain_deadline = now;
      }
    } else if (signal_number == SIGUSR1) {
      auto reopened = access_log.value().reopen();
      if (!reopened) {
        base::logError(
            "SIGUSR1: access log \"{}\" not reopened, still writing to the old "
            "file: {}",
            config.global.access_log, reopened.error().message());
      } else if (reopened.value()) {
        base::logInfo("SIGUSR1: access log \"{}\" reopened", config.global.access_log);
      }
    } else if (signal_number == SIGHUP) {
      base::logWarn("SIGHUP ignored: reload is not implemented yet");
    }
    if (draining && !aborted && now >= drain_deadline) {
      aborted = true;
      base::logInfo("shutdown grace over: closing remaining connections");
      for (auto& w : workers) w->abortAll();
    }
  }
  for (auto& w : workers) w->join();
  if (admin_server) admin_server->stop();
  if (checker) {
    checker->stop();
    base::logInfo("health: {} backend state changes", checker->transitions());
  }
  std::uint64_t total = 0;
  std::uint64_t spliced = 0;
  std::uint64_t retried = 0;
  std::uint64_t limited = 0;
  std::uint64_t queued = 0;
  std::uint64_t refused_acl = 0;
  std::uint64_t refused_connections = 0;
  std::uint64_t refused_rate = 0;
  std::uint64_t refused_untrusted = 0;
  std::uint64_t routed = 0;
  std::uint64_t not_tls = 0;
  for (auto& w : workers) {
    total += w->stats().accepted.get();
    spliced += w->stats().spliced.get();
    retried += w->stats().retried.get();
    limited += w->stats().accept_limited.get();
    refused_acl += w->stats().refused_acl.get();
    queued += w->stats().queued.get();
    refused_connections += w->stats().refused_source_connections.get();
    refused_rate += w->stats().refused_source_rate.get();
    refused_untrusted += w->stats().refused_proxy_untrusted.get();
    routed += w->stats().routed.get();
    not_tls += w->stats().not_tls.get();
  }
  base::logInfo(
      "stopped after {} connections ({} bulk directions moved by splice; {} retried on another "
      "backend after one ended before answering; accepting held back {} times by "
      "max_connections; {} queued for a backend slot; {} routed by their ClientHello, {} not "
      "TLS on routing listeners; refused: {} by allow/deny, {} over per_source_max_connections, "
      "{} over per_source_rate, {} PROXY connections from untrusted sources)",
      total, spliced, retried, limited, queued, routed, not_tls, refused_acl, refused_connections,
      refused_rate, refused_untrusted);
  std::string ended;
  for (std::size_t r = 0; r < static_cast<std::size_t>(proxy::EndReason::kCount); ++r) {
    std::uint64_t count = 0;
    for (auto& w : workers) count += w->stats().ended[r].get();
    if (count == 0) continue;
    ended += fmt::format(" {}={}", proxy::endReasonName(static_cast<proxy::EndReason>(r)), count);
  }
  if (!ended.empty()) base::logInfo("connections ended by reason:{}", ended);
  bool any_datagram = false;
  for (const auto& listener : config.listeners) any_datagram |= listener.isDatagram();
  if (any_datagram) {
    proxy::DatagramStats datagrams;
    for (auto& w : workers) datagrams.addFrom(w->datagramStats());
    base::logInfo("datagram totals: {}", datagrams.summary());
  }
  return 0;
}

}  // namespace l4lb::app
