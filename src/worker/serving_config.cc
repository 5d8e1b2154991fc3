#include "worker/serving_config.h"

#include <unistd.h>

#include <cstring>

#include "net/socket.h"

namespace l4lb::worker {

SharedListenSocket::~SharedListenSocket() {
  fd_.reset();
  if (!path_to_unlink_.empty() && net::ownsSocketPaths()) ::unlink(path_to_unlink_.c_str());
}

bool sameBind(const config::ListenerConfig& a, const config::ListenerConfig& b) {
  // The address itself, not the URL as written: "tcp://127.0.0.1:80" and "tcp://localhost:80"
  // are one socket. (mq:// names are in the URL alone.)
  if (a.bind.kind != b.bind.kind) return false;
  // A packet-path listener has no socket to keep or share.
  if (a.packetPath() || b.packetPath()) return false;
  if (a.bind.kind == net::EndpointKind::kMessageQueue) return a.bind.url == b.bind.url;
  return a.bind.addr_len == b.bind.addr_len &&
         std::memcmp(&a.bind.addr, &b.bind.addr, a.bind.addr_len) == 0;
}

}  // namespace l4lb::worker
