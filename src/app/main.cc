// l4lb: a layer-4 load balancer. Entry point: command line, config loading, then the server.

#include <fmt/core.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <string>
#include <vector>

#include "app/completion.h"
#include "app/ctl.h"
#include "app/decap.h"
#include "app/supervisor.h"
#include "base/log.h"
#include "build_info.h"
#include "config/loader.h"

namespace {

void printErrors(const std::vector<l4lb::config::ConfigError>& errors) {
  for (const auto& error : errors) fmt::print(stderr, "{}\n", error.format());
  fmt::print(stderr, "{} error{} found\n", errors.size(), errors.size() == 1 ? "" : "s");
}

void printWarnings(const std::vector<l4lb::config::ConfigError>& warnings) {
  for (const auto& warning : warnings) fmt::print(stderr, "warning: {}\n", warning.format());
}

// The exit status of a usage error, for every command (l4lb(8), EXIT STATUS); CLI11's own codes
// (105, 106, ...) are not documented anywhere an operator looks.
constexpr int kUsageError = 2;

std::string versionText() {
  return fmt::format("l4lb {} (commit {}, {} build, {} {})", L4LB_VERSION, L4LB_COMMIT,
                     L4LB_BUILD_TYPE[0] != 0 ? L4LB_BUILD_TYPE : "default",
#if defined(__clang__)
                     "clang",
#else
                     "gcc",
#endif
                     __VERSION__);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "l4lb: a layer-4 load balancer (tcp://, udp://, unix://, unixgram://, mq:// endpoints)"};
  app.set_version_flag("-V,--version", versionText());
  app.require_subcommand(1);

  std::string run_config;
  l4lb::config::QuickOptions quick;
  std::uint32_t quick_workers = 0;
  auto* run = app.add_subcommand("run", "Run the load balancer in the foreground");
  run->add_option("-c,--config", run_config, "TOML config file")->check(CLI::ExistingFile);
  std::string upgrade_from;
  run->add_option("--upgrade-from", upgrade_from,
                  "Binary upgrade: take over the listening sockets and open connections of the "
                  "l4lb serving this admin socket (unix:///PATH)");
  auto* listen = run->add_option("--listen", quick.listen,
                                 "Quick mode: listener URL, e.g. tcp://127.0.0.1:8080");
  run->add_option("--backend", quick.backends, "Quick mode: backend URL (repeat for each backend)")
      ->needs(listen);
  run->add_option("--balance", quick.balance,
                  "Quick mode: round-robin | least-conn | random-two | maglev | first")
      ->needs(listen);
  run->add_option("--workers", quick_workers, "Quick mode: worker threads (default: one per CPU)")
      ->needs(listen);
  run->add_option("--admin", quick.admin,
                  "Quick mode: admin API socket, unix:///PATH (default: no admin API)")
      ->needs(listen);
  listen->excludes("--config");

  std::string check_config;
  auto* check = app.add_subcommand("check", "Validate a config file and exit (0: valid, 1: not)");
  check->add_option("-c,--config", check_config, "TOML config file")->required();

  l4lb::app::CtlCommand ctl(app);

  std::string decap_interface;
  auto* decap = app.add_subcommand(
      "decap",
      "Backend of a forward = \"ipip\" listener: strip the IPIP outer header with XDP on an "
      "interface, in the foreground until SIGTERM or SIGINT");
  decap
      ->add_option("-i,--interface", decap_interface,
                   "The interface the encapsulated packets "
                   "arrive on")
      ->required();

  std::string shell;
  auto* completion = app.add_subcommand(
      "completion", "Print the shell completion script for bash or zsh (installed by the build)");
  completion->add_option("SHELL", shell, "bash | zsh")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh"}));

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    // --help and --version are "errors" with code 0 that print what was asked.
    int code = app.exit(e);
    return code == 0 ? 0 : kUsageError;
  }

  if (ctl.parsed()) return ctl.run();
  if (decap->parsed()) return l4lb::app::runDecap(decap_interface);
  if (completion->parsed()) {
    fmt::print("{}",
               shell == "bash" ? l4lb::app::bashCompletion(app) : l4lb::app::zshCompletion(app));
    return 0;
  }

  if (check->parsed()) {
    auto loaded = l4lb::config::loadConfigFile(check_config);
    printWarnings(loaded.warnings);
    if (!loaded.ok()) {
      printErrors(loaded.errors);
      return 1;
    }
    fmt::print("configuration file {} is valid\n", check_config);
    return 0;
  }

  l4lb::config::LoadResult loaded;
  if (!run_config.empty()) {
    loaded = l4lb::config::loadConfigFile(run_config);
  } else if (!quick.listen.empty()) {
    if (quick_workers != 0) quick.workers = quick_workers;
    loaded = l4lb::config::configFromQuickOptions(quick);
  } else {
    fmt::print(stderr, "l4lb run: give a config file (-c FILE) or --listen URL --backend URL...\n");
    return 1;
  }
  for (const auto& warning : loaded.warnings) l4lb::base::logWarn("config: {}", warning.format());
  if (!loaded.ok()) {
    printErrors(loaded.errors);
    return 1;
  }
  return l4lb::app::runServer(std::move(*loaded.config), run_config, upgrade_from);
}
