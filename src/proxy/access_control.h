#pragma once

#include <sys/socket.h>

#include "config/config.h"

namespace l4lb::proxy {

// A listener's allow and deny lists applied to a client address: deny wins; an empty allow list
// lets everyone else in.
[[nodiscard]] inline bool clientAllowed(const config::ListenerConfig& listener,
                                        const sockaddr* address, socklen_t length) {
  if (listener.deny.contains(address, length)) return false;
  return listener.allow.empty() || listener.allow.contains(address, length);
}

}  // namespace l4lb::proxy
