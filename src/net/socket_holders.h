#pragma once

#include <sys/types.h>

#include <cstdint>
#include <string>
#include <vector>

#include "base/result.h"
#include "net/endpoint.h"

namespace l4lb::net {

// A process that holds a socket: found by the socket's inode in /proc/PID/fd.
struct SocketHolder {
  pid_t pid = 0;
  std::string command;  // /proc/PID/comm
};

// A socket of someone else on an address a listener wants: listening (stream) or bound
// (datagram) where it would share connections or datagrams with the listener.
struct OtherSocket {
  std::string address;  // "127.0.0.1:8080", "[::]:53", "/run/x.sock"
  std::uint64_t inode = 0;
  std::uint32_t uid = 0;
  std::vector<SocketHolder> holders;  // empty: /proc shows no process of it to this one
};

// The sockets on an address that overlaps the endpoint's (tcp:// and udp://: the same port and
// the same address, or a wildcard on either side; unix paths: the same name and type) that this
// process does not hold and was not handed (handedSocket). From the kernel's socket tables
// (NETLINK_SOCK_DIAG, unprivileged), so other users' sockets are found too; their holders only
// where /proc lets this process look.
[[nodiscard]] base::Result<std::vector<OtherSocket>> otherSocketsOn(const Endpoint& endpoint);

// "127.0.0.1:8080 by pid 1234 (l4lb)", "/run/a.sock by pids 1 (systemd), 9 (nginx)",
// "0.0.0.0:8080 by a process of uid 1000 (not visible here)", joined with "; ".
[[nodiscard]] std::string describeOthers(const std::vector<OtherSocket>& others);

// A failed bind's error; when the address is in use, it names who holds it where the kernel
// tells ("bind: Address already in use (127.0.0.1:80 by pid 1234 (nginx))"); when permission
// is denied, what it takes (a port below 1024: the capability; a path: its directory).
[[nodiscard]] base::Error bindError(const Endpoint& endpoint, int code);

// Remembers a socket handed to this process (a binary upgrade's listening sockets): the process
// it came from keeps its copy for a while, and an address shared with it is not shared with
// someone else, even once this process has closed its own copy.
void handedSocket(int fd);

// Whether a socket with this address (family AF_INET or AF_INET6, 16 address bytes, v4 in the
// first 4; port in host order) takes connections or datagrams meant for the endpoint.
[[nodiscard]] bool overlapsEndpoint(const Endpoint& endpoint, int family,
                                    const std::uint8_t* address, std::uint16_t port, bool v6only);

}  // namespace l4lb::net
