// The session's preamble: what a listener reads from the client before it can choose a backend.
// A PROXY header (proxy_protocol = "accept"), taken off the stream and believed for the client's
// address; a TLS ClientHello (routes, tls_required), left in the stream and read for the pool.

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>

#include "base/log.h"
#include "net/endpoint.h"
#include "proto/proxy_protocol.h"
#include "proto/tls_client_hello.h"
#include "proxy/route_choice.h"
#include "proxy/session.h"

namespace l4lb::proxy {

void Session::startPreamble() {
  state_ = State::kInspecting;
  proxy_pending_ = listener_.proxy_accept;
  hello_pending_ = listener_.inspectsTls();
  const auto timeout = proxy_pending_ ? listener_.proxy_timeout : listener_.inspect_timeout;
  env_.loop->timers().schedule(this, env_.loop->now() + timeout.count());
  // Bytes that came with the handshake are reported on the client's first event (epoll reports
  // the readiness there is when a socket is added).
}

void Session::readPreamble() {
  while (relay_.client.readable) {
    if (!relay_.upstream.buffer) relay_.upstream.buffer = env_.buffers->acquire();
    const std::size_t room = kPreambleLimit - relay_.upstream.length;
    if (room == 0) {
      (void)examinePreamble(false);  // full: the parsers say what that means
      return;
    }
    ssize_t received = ::recv(relay_.client.fd.get(),
                              relay_.upstream.buffer.data() + relay_.upstream.length, room, 0);
    if (received > 0) {
      relay_.upstream.length += static_cast<std::uint32_t>(received);
      relay_.upstream.bytes += static_cast<std::uint64_t>(received);
      if (static_cast<std::size_t>(received) < room && !relay_.client.peer_closed) {
        relay_.client.readable = false;
      }
      if (!examinePreamble(false)) return;
      continue;
    }
    if (received == 0) {
      relay_.client.readable = false;
      relay_.upstream.source_eof = true;
      (void)examinePreamble(true);
      return;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      relay_.client.readable = false;
      return;
    }
    finish(EndReason::kClientReset);
    return;
  }
}

bool Session::examinePreamble(bool eof) {
  if (proxy_pending_ && !takeProxyHeader(eof)) return false;
  if (proxy_pending_) return true;  // more to come
  if (hello_pending_ && !routeByClientHello(eof)) return false;
  if (hello_pending_) return true;
  env_.loop->timers().cancel(this);
  beginConnecting();
  return false;
}

bool Session::takeProxyHeader(bool eof) {
  const std::string_view bytes(relay_.upstream.buffer.data(), relay_.upstream.length);
  proto::ProxyParseLimits limits;
  limits.max_v2_bytes = kPreambleLimit;
  proto::ProxyParseResult parsed = proto::parseProxyHeader(bytes, limits);
  if (parsed.status == proto::ProxyParseStatus::kNeedMore) {
    if (!eof && relay_.upstream.length < kPreambleLimit) return true;
    endPreamble(EndReason::kBadProxyHeader, "bad PROXY header",
                eof ? "the client closed before the header was complete"
                    : "the header does not fit the buffer");
    return false;
  }
  if (parsed.status != proto::ProxyParseStatus::kDone) {
    endPreamble(EndReason::kBadProxyHeader, "bad PROXY header", parsed.error);
    return false;
  }
  const proto::ProxyHeader& header = parsed.header;
  // LOCAL (the proxy's own connection, such as its health check), UNKNOWN and unix addresses
  // leave the connection's own peer as the client.
  const int family = header.source.family();
  if (header.command == proto::ProxyCommand::kProxy && (family == AF_INET || family == AF_INET6) &&
      header.source.len <= sizeof(client_address_.addr)) {
    std::memcpy(&client_address_.addr, &header.source.addr, header.source.len);
    client_address_.len = header.source.len;
  }
  if (header.destination.len != 0 || !header.tlvs.empty()) {
    received_proxy_ = std::make_unique<ReceivedProxyHeader>();
    if (header.command == proto::ProxyCommand::kProxy) {
      received_proxy_->destination = header.destination.addr;
      received_proxy_->destination_len = header.destination.len;
    }
    if (header.tlvs.size() <= kMaxPassedTlvBytes) received_proxy_->tlvs = header.tlvs;
  }
  // The header is l4lb's, not the backend's: it leaves the stream and the byte count.
  const auto consumed = static_cast<std::uint32_t>(parsed.consumed);
  std::memmove(relay_.upstream.buffer.data(), relay_.upstream.buffer.data() + consumed,
               relay_.upstream.length - consumed);
  relay_.upstream.length -= consumed;
  relay_.upstream.bytes -= consumed;
  proxy_pending_ = false;
  if (!owner_->admitClient(*this)) {
    finish(EndReason::kRefused);
    return false;
  }
  if (hello_pending_) {
    env_.loop->timers().schedule(this, env_.loop->now() + listener_.inspect_timeout.count());
  }
  return true;
}

bool Session::routeByClientHello(bool eof) {
  const std::string_view bytes(relay_.upstream.buffer.data(), relay_.upstream.length);
  if (bytes.empty() && !eof) return true;
  proto::ClientHelloResult hello = proto::inspectClientHello(bytes);
  if (hello.status == proto::ClientHelloStatus::kNeedMore) {
    if (!eof && relay_.upstream.length < kPreambleLimit) return true;
    hello.status = eof ? proto::ClientHelloStatus::kMalformed : proto::ClientHelloStatus::kTooLarge;
    hello.error = eof ? "the client closed inside its ClientHello"
                      : "the ClientHello does not fit the buffer";
  }
  hello_pending_ = false;
  if (hello.status == proto::ClientHelloStatus::kDone) {
    if (auto pool = chooseRoute(listener_, hello.info)) {
      pool_ = &owner_->poolAt(*pool);
      env_.stats->routed.add();
    }
    if (env_.access_log->enabled()) server_name_ = std::move(hello.info.server_name);
    return true;
  }
  env_.stats->not_tls.add();
  if (listener_.tls_required) {
    endPreamble(EndReason::kNotTls, "not a TLS ClientHello", hello.error);
    return false;
  }
  return true;  // the listener's own pool, bytes unchanged
}

void Session::endPreamble(EndReason reason, const char* what, const std::string& detail) {
  std::uint64_t suppressed = 0;
  if (env_.failure_log->allow(env_.loop->now(), suppressed)) {
    std::string client = net::formatSockaddr(&client_address_.addr.sa, client_address_.len);
    base::logWarn("listener \"{}\" client {}: {}{}{}; closed{}", listener_.name, client, what,
                  detail.empty() ? "" : ": ", detail,
                  suppressed == 0 ? "" : fmt::format(" ({} similar lines suppressed)", suppressed));
  }
  finish(reason);
}

}  // namespace l4lb::proxy
