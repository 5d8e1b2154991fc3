#pragma once

// What a binary upgrade moves of a proxied connection or a datagram flow, as plain values: the
// proxy takes its sessions and flows apart into these (handOff) and carries on with them
// (resume); upgrade/ puts them on the wire (handoff_message.h) without knowing sessions.

#include <cstdint>
#include <string>

namespace l4lb::proxy {

// One direction of a proxied connection as the old process left it.
struct DirectionState {
  std::string pending;      // read from the source, not yet sent to the destination
  std::uint64_t bytes = 0;  // read from the source so far (for the access log)
  std::uint32_t piped = 0;  // bytes in a pipe that comes along (splice); 0: no pipe
  bool source_eof = false;
  bool shut_down = false;  // shutdown(SHUT_WR) already sent to the destination
  bool operator==(const DirectionState&) const = default;
};

// Comes with the client socket, the backend socket, then the read and write ends of the upstream
// pipe and of the downstream pipe, each pair only when that direction's `piped` is not 0.
struct SessionHandoff {
  std::string listener;
  std::string pool;
  std::string backend;         // the backend's name in that pool
  std::string client_address;  // the client's sockaddr, as bytes
  std::uint64_t age_ms = 0;    // since the client connected
  std::uint8_t attempts = 0;
  DirectionState upstream;    // client -> backend
  DirectionState downstream;  // backend -> client
  bool operator==(const SessionHandoff&) const = default;
};

// One UDP flow (udp:// listeners): comes with its connected socket to the backend, so replies to
// the client keep coming back through the new process.
struct FlowHandoff {
  std::uint32_t worker = 0;  // the old process's, whose listening socket the flow came in on
  std::string listener;
  std::string pool;
  std::string backend;         // the backend's name in that pool
  std::string client_address;  // the client's sockaddr, as bytes
  // SO_COOKIE of that listening socket: the new process serves the flow beside the same socket
  // when it has fewer workers (and so several sockets a worker). Last on the wire, and absent
  // when 0 (unknown), so a sender without it is still understood: the flow then goes to the
  // worker's first socket of the listener.
  std::uint64_t socket_cookie = 0;
  bool operator==(const FlowHandoff&) const = default;
};

}  // namespace l4lb::proxy
