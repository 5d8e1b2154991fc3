#pragma once

#include <CLI/CLI.hpp>
#include <memory>

namespace l4lb::app {

// `l4lb ctl ...`: the admin API's client (README.md, "Admin API"). Adds the subcommand and its
// own subcommands to `app`; runCtl() runs whichever was parsed.
class CtlCommand {
 public:
  explicit CtlCommand(CLI::App& app);
  ~CtlCommand();
  CtlCommand(const CtlCommand&) = delete;
  CtlCommand& operator=(const CtlCommand&) = delete;

  [[nodiscard]] bool parsed() const;
  // The process exit code: 0 done, 1 the API refused (its error is printed), 2 no answer.
  [[nodiscard]] int run();

 private:
  struct Options;
  std::unique_ptr<Options> options_;
};

}  // namespace l4lb::app
