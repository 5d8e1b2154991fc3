#pragma once

#include <string>
#include <string_view>

namespace l4lb::app {

// The service manager's readiness protocol (sd_notify(3)), through libsystemd. Each call is a
// no-op without NOTIFY_SOCKET (not started by systemd, or by a unit that is not Type=notify),
// and a failure to send is logged at debug level only: a missing message must never stop l4lb.
// The text of STATUS= is what `systemctl status` shows.
class ServiceNotify {
 public:
  // Workers and the admin API serve: READY=1, STATUS= and MAINPID=.
  static void ready(std::string_view status);
  // A reload begins: RELOADING=1 with MONOTONIC_USEC= (systemd 253 checks it; 252 ignores it).
  static void reloading(std::string_view status);
  // A reload ended, applied or not (a failed one leaves the old config serving): READY=1 and a
  // STATUS= naming the result.
  static void reloaded(std::string_view status);
  // SIGTERM or SIGINT: STOPPING=1. Later reloading() and reloaded() send nothing.
  static void stopping(std::string_view status);

  // Runs `reload` (returning an admin::ReloadOutcome) between reloading() and reloaded(), the
  // outcome's message as the status.
  template <typename Reload>
  static auto around(std::string_view what, Reload&& reload) {
    reloading(what);
    auto outcome = reload();
    reloaded(outcome.ok ? outcome.message
                        : "reload failed, still serving the config before: " + outcome.message);
    return outcome;
  }
};

}  // namespace l4lb::app
