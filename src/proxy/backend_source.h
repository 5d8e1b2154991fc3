#pragma once

#include <sys/socket.h>

#include "base/result.h"
#include "config/config.h"
#include "net/local_source.h"

namespace l4lb::proxy {

// The source address of a connection or flow from `client` to a backend of `family`, as the
// pool's `source` asks: none (the kernel's pick), the pool's fixed address, or the client's own.
// An error (EAFNOSUPPORT) only for source = "client" with a client of another family, which the
// config check rules out except through a PROXY protocol header.
[[nodiscard]] inline base::Result<net::LocalSource> backendSource(
    const config::SourceConfig& source, const sockaddr* client, socklen_t client_len, int family) {
  switch (source.kind) {
    case config::SourceKind::kAddress: return source.address;
    case config::SourceKind::kClient: return net::clientSource(client, client_len, family);
    case config::SourceKind::kAuto: break;
  }
  return net::LocalSource{};
}

}  // namespace l4lb::proxy
