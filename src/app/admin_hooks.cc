#include <chrono>

#include "admin/file_digest.h"
#include "admin/state_file.h"
#include "app/server.h"
#include "app/service_notify.h"
#include "app/worker_job.h"
#include "base/log.h"
#include "io/clock.h"
#include "proxy/balancer_plans.h"

namespace l4lb::app {

bool Server::startAdmin(const config::Config& config, unsigned worker_count, bool bind) {
  if (config.admin.listen.empty()) return true;
  admin::StartInfo info{.version = L4LB_VERSION,
                        .workers = worker_count,
                        .config_sha256 = admin::fileSha256(config.source),
                        .started_ms = io::monotonicMillis()};
  admin::ControllerHooks hooks;
  auto targets = targets_;
  hooks.publish = [this, targets](std::shared_ptr<const control::AdminSnapshot> change) {
    for (worker::Worker* w : targets) {
      w->loop().post([w, change] { w->applyAdmin(change); });
    }
    pokeAnnouncer();
  };
  hooks.pause_checks = [this](std::uint32_t pool, std::uint32_t backend, bool paused) {
    std::lock_guard lock(checks_.mutex);
    if (checks_.checker) checks_.checker->setPaused(pool, backend, paused);
  };
  hooks.totals = [targets](std::string_view pool, std::string_view backend) {
    admin::BackendTotals totals;
    for (const worker::Worker* w : targets) {
      const auto view = w->backendCounters(pool, backend);
      if (view.counters == nullptr) continue;
      totals.active += view.counters->active.get();
      totals.total += view.counters->total.get();
      totals.connect_failures += view.counters->connect_failures.get();
      totals.resets += view.counters->resets.get();
      totals.ejections += view.counters->ejections.get();
      totals.bytes_in += view.counters->bytes_to_backend.get();
      totals.bytes_out += view.counters->bytes_from_backend.get();
    }
    return totals;
  };
  hooks.metrics = [this, targets](admin::MetricsSample& sample) {
    for (const worker::Worker* w : targets) w->addMetrics(sample);
    if (access_log_) sample.access_log_dropped = access_log_->dropped();
  };
  hooks.reload = [this] {
    return onMainThread(
        [this] { return ServiceNotify::around("reloading (API)", [this] { return reload(); }); });
  };
  hooks.reload_dry_run = [this] { return onMainThread([this] { return reloadDryRun(); }); };
  hooks.apply_config = [this](config::Config next, std::string what) {
    return onMainThread([this, next = std::move(next), what = std::move(what)]() mutable {
      return ServiceNotify::around(what, [&] { return apply(std::move(next), what, what); });
    });
  };
  hooks.upgrade = [this] { return onMainThread([this] { return beginUpgrade(); }); };
  // Each worker lists and ends its own sessions on its thread; a worker that stopped (drained)
  // never answers, hence the bound.
  hooks.sessions = [targets](bool& complete) {
    std::vector<proxy::SessionView> all;
    for (worker::Worker* w : targets) {
      auto views = runOnLoop<std::vector<proxy::SessionView>>(
          w->loop(), [w] { return w->sessionViews(); }, std::chrono::seconds(2));
      if (!views) {
        complete = false;
        continue;
      }
      all.insert(all.end(), std::make_move_iterator(views->begin()),
                 std::make_move_iterator(views->end()));
    }
    return all;
  };
  hooks.end_session = [targets](std::uint64_t id) {
    const std::uint32_t worker = proxy::sessionWorker(id);
    if (worker >= targets.size()) return false;
    worker::Worker* w = targets[worker];
    return runOnLoop<bool>(
               w->loop(), [w, id] { return w->endSession(id); }, std::chrono::seconds(2))
        .value_or(false);
  };
  hooks.discovery = [this] { return discoveryStatus(); };
  if (packet_) hooks.packet = [this] { return packet_->numbers(); };
  if (announcer_) {
    hooks.announce = [this] { return announcer_->views(); };
    hooks.listener_changed = [this] { pokeAnnouncer(); };
  }
  if (!config.global.state_file.empty()) {
    hooks.save_state = [path = config.global.state_file](const std::string& text) {
      if (auto saved = admin::writeStateFile(path, text); !saved) {
        base::logWarn("global.state_file: the change is not saved: {}", saved.error().message());
      }
    };
  }
  // The workers' own Maglev tables (startWorkers built them): the API digests what is served.
  controller_ = std::make_unique<admin::Controller>(config, std::move(info), std::move(hooks),
                                                    proxy::maglevTables(serving_->plans));
  admin_server_ = std::make_unique<admin::AdminServer>(config.admin, *controller_);
  if (!bind) return true;
  if (auto bound = admin_server_->bind(); !bound) {
    base::logError("{}", bound.error().message());
    return false;
  }
  return true;
}

admin::ReloadOutcome Server::onMainThread(std::function<admin::ReloadOutcome()> job) {
  // A reload takes well under a minute; one that has not begun by then never does.
  auto outcome = runOnLoop<admin::ReloadOutcome>(*loop_, std::move(job), std::chrono::seconds(60));
  if (!outcome) {
    return admin::ReloadOutcome{.ok = false,
                                .message = "the main thread did not take it up in 60 s: not made",
                                .warnings = {},
                                .changes = {}};
  }
  return std::move(*outcome);
}

}  // namespace l4lb::app
