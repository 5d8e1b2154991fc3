// The send_proxy header (PROXY protocol v1 or v2) a session puts first on its backend connection,
// naming the client and the address it connected to.

#include <sys/socket.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <string_view>

#include "proto/proxy_protocol.h"
#include "proxy/session.h"

namespace l4lb::proxy {

// The PROXY header goes first into the client-to-backend buffer, before the bytes the preamble
// left there (kPreambleLimit keeps room for it), so relay() sends it before any client byte, in
// one send when the socket takes it.
void Session::queueProxyHeader() {
  // The address the client connected to: as a received PROXY header says, or the listener's as
  // the client saw it (not a wildcard bind address).
  sockaddr_storage local{};
  socklen_t local_len = sizeof(local);
  if (received_proxy_ && received_proxy_->destination_len != 0) {
    local = received_proxy_->destination;
    local_len = received_proxy_->destination_len;
  } else if (::getsockname(relay_.client.fd.get(), reinterpret_cast<sockaddr*>(&local),
                           &local_len) != 0) {
    local_len = 0;
  }
  sockaddr_storage peer{};
  socklen_t peer_len = 0;
  if (client_address_.len >= sizeof(sa_family_t)) {
    std::memcpy(&peer, &client_address_.addr,
                std::min<socklen_t>(client_address_.len, sizeof(client_address_.addr)));
    peer_len = client_address_.len;
  }
  if (peer.ss_family == AF_UNIX) {
    // ClientAddress has no room for a Unix path: ask the socket (usually unnamed, 2 bytes).
    peer_len = sizeof(peer);
    if (::getpeername(relay_.client.fd.get(), reinterpret_cast<sockaddr*>(&peer), &peer_len) != 0) {
      peer_len = 0;
    }
  }
  const auto* source = peer_len == 0 ? nullptr : reinterpret_cast<const sockaddr*>(&peer);
  const auto* destination = local_len == 0 ? nullptr : reinterpret_cast<const sockaddr*>(&local);
  const std::string_view tlvs = received_proxy_ ? received_proxy_->tlvs : std::string_view();
  const std::string header = pool_->config->send_proxy == config::SendProxy::kV1
                                 ? proto::encodeProxyV1(source, destination)
                                 : proto::encodeProxyV2(source, peer_len, destination, local_len,
                                                        proto::ProxyTransport::kStream, tlvs);
  // At most 16 + 216 + kMaxPassedTlvBytes: fits in front of what the preamble left.
  if (!relay_.upstream.buffer) relay_.upstream.buffer = env_.buffers->acquire();
  char* data = relay_.upstream.buffer.data();
  std::memmove(data + header.size(), data + relay_.upstream.offset,
               relay_.upstream.length - relay_.upstream.offset);
  std::memcpy(data, header.data(), header.size());
  relay_.upstream.length =
      relay_.upstream.length - relay_.upstream.offset + static_cast<std::uint32_t>(header.size());
  relay_.upstream.offset = 0;
  proxy_header_bytes_ = static_cast<std::uint16_t>(header.size());
}

}  // namespace l4lb::proxy
