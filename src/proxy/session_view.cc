// Session::view(): what the admin API shows of an open session (proxy/session_view.h).

#include "proxy/session_view.h"

#include "proxy/session.h"

namespace l4lb::proxy {

SessionView Session::view() const {
  SessionView out;
  out.id = id;
  out.listener = listener_.name;
  out.client = net::formatSockaddr(&client_address_.addr.sa, client_address_.len);
  if (attempts_.current() != balance::kNoBackend) {
    out.backend = pool_->config->backends[attempts_.current()].name;
  }
  switch (state_) {
    case State::kInspecting: out.state = "inspecting"; break;
    case State::kConnecting: out.state = "connecting"; break;
    case State::kQueued: out.state = "queued"; break;
    case State::kProxying: out.state = "proxying"; break;
    case State::kClosed: out.state = "closed"; break;
  }
  out.age_ms = env_.loop->now() - started_ms_;
  out.bytes_in = relay_.upstream.bytes;
  out.bytes_out = relay_.downstream.bytes;
  return out;
}

}  // namespace l4lb::proxy
