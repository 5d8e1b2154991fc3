#pragma once

#include <CLI/CLI.hpp>
#include <string>

namespace l4lb::app {

// Shell completion scripts written from the command line's own definition (every subcommand,
// option and positional of `app`), so they cannot drift from it. The build writes them with
// `l4lb completion bash|zsh` and `cmake --install` puts them where bash-completion and zsh look.
// Pool and backend names are completed by asking the running l4lb (`l4lb ctl pools`), quietly.
[[nodiscard]] std::string bashCompletion(const CLI::App& app);
[[nodiscard]] std::string zshCompletion(const CLI::App& app);

}  // namespace l4lb::app
