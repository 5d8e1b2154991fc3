#pragma once

#include <string>

namespace l4lb::app {

// `l4lb decap --interface IF`: attaches the decapsulation program (bpf/xdp_decap.bpf.c) to IF,
// for backends of forward = "ipip" listeners on hosts without a kernel ipip device, and holds
// it there in the foreground until SIGTERM or SIGINT, then detaches it (docs/packet-path.md).
// Returns the exit status: 0 after a signal, 1 when it could not attach.
[[nodiscard]] int runDecap(const std::string& interface);

}  // namespace l4lb::app
