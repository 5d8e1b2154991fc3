// l4load's server: echo, source and sink backends (the client's hello picks which per
// connection), and a UDP echo that tags its replies; it records every connection's truth as the
// client does, so a byte lost inside the proxy is told apart from one lost on the wire.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "sockets.h"

namespace l4load {

struct ServerOptions {
  std::vector<Address> listen;      // TCP
  std::vector<Address> listen_udp;  // UDP echo
  std::string id = "server";        // tags UDP replies (8 bytes), names the summary
  std::string summary_path;         // written on SIGUSR1, SIGTERM, SIGINT and at the end
  std::uint64_t duration_ms = 600000;
  std::uint64_t idle_timeout_ms = 60000;
  std::uint64_t echo_buffer = 256 * 1024;  // echo stops reading above this many unsent bytes
};

int runServer(const ServerOptions& options);

// The tag a UDP reply carries after the echoed datagram.
inline constexpr std::size_t kUdpTagSize = 8;

}  // namespace l4load
