#include "app/service_notify.h"

#include <fmt/format.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>

#include "base/log.h"

namespace l4lb::app {

namespace {

// One line: sd_notify's fields are newline-separated, so a newline in a reload error (one per
// config error) would end STATUS= early and be read as another field.
std::string oneLine(std::string_view text) {
  std::string line(text);
  for (char& c : line) {
    if (c == '\n') c = ' ';
  }
  // systemd keeps STATUS= short in `systemctl status`; the log has the whole message.
  constexpr std::size_t kMaxStatus = 400;
  if (line.size() > kMaxStatus) line = line.substr(0, kMaxStatus - 3) + "...";
  return line;
}

void send(const std::string& message) {
  // unset_environment = 0: a reload sends again, so NOTIFY_SOCKET must stay.
  int rc = ::sd_notify(0, message.c_str());
  if (rc < 0) base::logDebug("sd_notify: {}", std::strerror(-rc));
}

std::uint64_t monotonicMicros() {
  timespec now{};
  ::clock_gettime(CLOCK_MONOTONIC, &now);
  return static_cast<std::uint64_t>(now.tv_sec) * 1'000'000U +
         static_cast<std::uint64_t>(now.tv_nsec) / 1000U;
}

// After STOPPING=1 a reload (one the admin API asked for while draining, which fails) must not
// say READY=1 again: the service manager would take the unit for running.
std::atomic<bool> stopping_sent{false};

}  // namespace

void ServiceNotify::ready(std::string_view status) {
  send(fmt::format("READY=1\nSTATUS={}\nMAINPID={}", oneLine(status), ::getpid()));
}

void ServiceNotify::reloading(std::string_view status) {
  if (stopping_sent.load()) return;
  send(
      fmt::format("RELOADING=1\nMONOTONIC_USEC={}\nSTATUS={}", monotonicMicros(), oneLine(status)));
}

void ServiceNotify::reloaded(std::string_view status) {
  if (stopping_sent.load()) return;
  send(fmt::format("READY=1\nSTATUS={}", oneLine(status)));
}

void ServiceNotify::stopping(std::string_view status) {
  stopping_sent.store(true);
  send(fmt::format("STOPPING=1\nSTATUS={}", oneLine(status)));
}

}  // namespace l4lb::app
