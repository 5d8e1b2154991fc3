#include "app/self_upgrade.h"

#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <vector>

#include "base/log.h"

namespace l4lb::app {

std::string unixAdminPath(const config::Config& config) {
  for (const auto& endpoint : config.admin.listen) {
    if (endpoint.kind != net::EndpointKind::kUnix) continue;
    const auto* sun = reinterpret_cast<const sockaddr_un*>(&endpoint.addr);
    return sun->sun_path[0] != '\0' ? std::string(sun->sun_path)
                                    : "@" + std::string(sun->sun_path + 1);
  }
  return {};
}

SelfUpgrade::SelfUpgrade() {
  std::array<char, 4096> path{};
  const ssize_t n = ::readlink("/proc/self/exe", path.data(), path.size() - 1);
  if (n <= 0) return;
  binary_.assign(path.data(), static_cast<std::size_t>(n));
  // The kernel marks a file replaced on disk (a package upgrade renames the new one over it);
  // what is at that path now is the binary to start.
  constexpr std::string_view kDeleted = " (deleted)";
  if (binary_.ends_with(kDeleted)) binary_.resize(binary_.size() - kDeleted.size());
}

base::Result<void> SelfUpgrade::start(const std::string& config_path,
                                      const config::Config& config) {
  if (child_ > 0) {
    return base::failure("a new binary started by SIGUSR2 is still taking over");
  }
  if (config_path.empty()) {
    return base::failure(
        "l4lb was started from the command line: the new binary would have no config file");
  }
  const std::string admin = unixAdminPath(config);
  if (admin.empty() || admin[0] == '@') {
    return base::failure(
        "the new binary asks the running one through a unix:// admin socket with a path, and "
        "[admin] listen has none");
  }
  if (binary_.empty() || ::access(binary_.c_str(), X_OK) != 0) {
    return base::failure("cannot run this binary's path again (" + binary_ + ")");
  }
  // Everything the child needs is made before fork(): after it, a multithreaded process's child
  // may only call async-signal-safe functions until it execs.
  const std::string from = "unix://" + admin;
  std::vector<std::string> args = {binary_, "run", "-c", config_path, "--upgrade-from", from};
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  argv.push_back(nullptr);
  const pid_t pid = ::fork();
  if (pid < 0) {
    return base::lastError("fork");
  }
  if (pid == 0) {
    // Nothing but stdio goes to the new binary (the admin API's library opens its sockets
    // without close-on-exec): it takes what it needs through the handoff.
    ::close_range(3, ~0U, 0);
    ::execv(argv[0], argv.data());
    ::_exit(127);
  }
  child_ = pid;
  base::logInfo("SIGUSR2: started {} (pid {}) to take over", binary_, pid);
  return {};
}

void SelfUpgrade::poll() {
  if (child_ <= 0) return;
  int status = 0;
  const pid_t done = ::waitpid(child_, &status, WNOHANG);
  if (done == 0) return;
  if (done == child_) {
    if (WIFEXITED(status)) {
      base::logWarn("SIGUSR2: the new binary (pid {}) exited with status {}; still serving here",
                    child_, WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
      base::logWarn("SIGUSR2: the new binary (pid {}) was killed by signal {}; still serving here",
                    child_, WTERMSIG(status));
    }
  }
  child_ = -1;
}

}  // namespace l4lb::app
