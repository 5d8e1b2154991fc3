#include <fmt/format.h>

#include "app/server.h"
#include "app/serving_builder.h"
#include "base/log.h"
#include "config/config_diff.h"
#include "config/loader.h"
#include "io/clock.h"

namespace l4lb::app {

std::unique_ptr<health::HealthChecker> Server::makeChecker(const config::Config& config) {
  if (!health::HealthChecker::wanted(config)) return nullptr;
  admin::Controller* admin_view = controller_.get();
  auto targets = targets_;
  return std::make_unique<health::HealthChecker>(
      config,
      [this, targets, admin_view](std::shared_ptr<const control::HealthSnapshot> states) {
        if (admin_view) admin_view->onHealth(states);
        pokeAnnouncer();
        for (worker::Worker* w : targets) {
          w->loop().post([w, states] { w->applyHealth(states); });
        }
      },
      [admin_view](std::uint32_t pool, std::uint32_t backend, control::CheckResult result) {
        if (admin_view) admin_view->onChecked(pool, backend, std::move(result));
      },
      // An agent's answer goes the admin API's way: the operator's states and weights, one
      // snapshot to every worker.
      [admin_view](std::string_view pool, std::string_view backend,
                   const proto::AgentReport& report) {
        if (admin_view) admin_view->agentReport(pool, backend, report);
      });
}

admin::ReloadOutcome Server::reload() {
  auto fail = [&](std::string message) {
    base::logError("reload failed, still serving the config before: {}", message);
    if (controller_) controller_->noteReload(false, message);
    return admin::ReloadOutcome{
        .ok = false, .message = std::move(message), .warnings = {}, .changes = {}};
  };
  if (config_path_.empty()) {
    return fail("l4lb was started from the command line, with no config file to read again");
  }
  config::LoadResult loaded = config::loadConfigFile(config_path_);
  for (const auto& warning : loaded.warnings) base::logWarn("reload: {}", warning.format());
  if (!loaded.ok()) {
    std::string message;
    for (const auto& error : loaded.errors) {
      if (!message.empty()) message += "\n";
      message += error.format();
    }
    return fail(message);
  }
  // A reload keeps the discovered backends; a source it adds or changes is asked first, so its
  // pool does not go without its backends until the discovery thread's first answer.
  config::DiscoveredPools sets = withNewSources(*loaded.config);
  mergeDiscovered(*loaded.config, sets);
  admin::ReloadOutcome outcome =
      apply(std::move(*loaded.config), "reloaded " + config_path_, "reload");
  if (outcome.ok) {
    discovered_ = std::move(sets);
    startDiscovery();  // the sources the new config names (nothing when they are the same)
  }
  return outcome;
}

admin::ReloadOutcome Server::reloadDryRun() {
  admin::ReloadOutcome outcome;
  if (config_path_.empty()) {
    outcome.message = "l4lb was started from the command line, with no config file to read again";
    return outcome;
  }
  config::LoadResult loaded = config::loadConfigFile(config_path_);
  if (!loaded.ok()) {
    for (const auto& error : loaded.errors) {
      if (!outcome.message.empty()) outcome.message += "\n";
      outcome.message += error.format();
    }
    return outcome;
  }
  config::Config next = std::move(*loaded.config);
  mergeDiscovered(next, discovered_);
  const config::Config& running = serving_->config;
  outcome.warnings = keepRestartOnlySettings(running, next);
  outcome.changes = config::diffConfigs(running, next);
  outcome.ok = true;
  outcome.message = fmt::format("a reload from {} would change: {}", config_path_,
                                describeChanges(running, next));
  return outcome;
}

admin::ReloadOutcome Server::apply(config::Config next, const std::string& done,
                                   const std::string& change) {
  admin::ReloadOutcome outcome;
  auto fail = [&](std::string message) {
    base::logError("{} failed, still serving the config before: {}", change, message);
    outcome.ok = false;
    outcome.message = std::move(message);
    if (controller_) controller_->noteReload(false, outcome.message);
    return outcome;
  };
  if (draining_) return fail("shutting down");
  if (upgrading_) return fail("a binary upgrade is under way");
  if (auto packet = preparePacketPath(next); !packet) return fail(packet.error().message());
  Prepared prepared =
      prepareReload(std::move(next), *serving_, workers_.size(),
                    [this](const config::Config& config) { return makeChecker(config); });
  outcome.warnings = std::move(prepared.warnings);
  for (const auto& warning : outcome.warnings) base::logWarn("reload: {} (kept)", warning);
  if (!prepared.reload) return fail(prepared.reload.error().message());

  const std::string changes =
      commitReload(std::move(*prepared.reload), ReloadTargets{.serving = serving_,
                                                              .checks = checks_,
                                                              .workers = workers_,
                                                              .controller = controller_.get()});
  if (announcer_) {
    announcer_->configure(serving_->config, io::monotonicMillis());
    updateAnnouncer(io::monotonicMillis());
  }
  configurePacketPath();
  outcome.ok = true;
  outcome.message = fmt::format("{}: {}", done, changes);
  base::logInfo("{}", outcome.message);
  if (controller_) controller_->noteReload(true, outcome.message);
  return outcome;
}

}  // namespace l4lb::app
