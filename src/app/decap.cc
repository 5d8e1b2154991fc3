#include "app/decap.h"

#include <fmt/format.h>
#include <linux/if_link.h>
#include <net/if.h>
#include <signal.h>

#include <cerrno>
#include <cstring>

#include "base/log.h"
#include "bpf/decap_program.h"
#include "bpf/xdp_link.h"

namespace l4lb::app {

int runDecap(const std::string& interface) {
  // Blocked before anything else, so a signal that comes while loading is not lost: sigwait
  // takes it below.
  sigset_t stop;
  sigemptyset(&stop);
  sigaddset(&stop, SIGTERM);
  sigaddset(&stop, SIGINT);
  pthread_sigmask(SIG_BLOCK, &stop, nullptr);

  const unsigned ifindex = ::if_nametoindex(interface.c_str());
  if (ifindex == 0) {
    base::logError("decap: interface \"{}\": {}", interface, std::strerror(errno));
    return 1;
  }
  auto program = bpf::DecapProgram::load();
  if (!program) {
    base::logError(
        "decap: load the decapsulation program: {} (it needs root, or CAP_BPF and "
        "CAP_NET_ADMIN)",
        program.error().message());
    return 1;
  }
  auto link = bpf::attachXdp(static_cast<int>(ifindex), program->programFd(), XDP_FLAGS_DRV_MODE);
  if (!link) {
    base::logError("decap: attach to interface \"{}\" in native mode: {}{}", interface,
                   link.error().message(),
                   link.error().code == EBUSY ? " (another XDP program is attached there)" : "");
    return 1;
  }
  base::logInfo(
      "decap: stripping IPIP (IPv4 in IPv4/IPv6, IPv6 in IPv4/IPv6) outer headers on \"{}\"; "
      "SIGTERM or SIGINT detaches",
      interface);
  int signal_number = 0;
  while (sigwait(&stop, &signal_number) != 0) {
  }
  const auto v4 = program->counter(L4LB_DECAP_V4);
  const auto v6 = program->counter(L4LB_DECAP_V6);
  link->reset();  // detaches
  base::logInfo("decap: {}: detached from \"{}\" after {} IPv4-outer and {} IPv6-outer packets",
                signal_number == SIGTERM ? "SIGTERM" : "SIGINT", interface, v4 ? *v4 : 0,
                v6 ? *v6 : 0);
  return 0;
}

}  // namespace l4lb::app
