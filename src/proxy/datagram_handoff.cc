// Datagram flows moving between processes in a binary upgrade (docs/upgrade.md). The listening
// socket itself is shared by both processes; what moves is each flow's connected socket to its
// backend, so the backend's replies to a client keep arriving.

#include <algorithm>
#include <cstring>

#include "base/log.h"
#include "proxy/datagram_listener.h"

namespace l4lb::proxy {

void DatagramListener::handOffFlows(std::vector<HandedFlow>& out) {
  // Flows of a listener that takes PROXY headers reply to the proxy that sent them, which the
  // format does not carry: those end here with their idle timeout.
  if (listener_->proxy_accept) return;
  Flow* flow = table_.oldest();
  while (flow != nullptr) {
    Flow* newer = flow->lru_newer == kNoFlow ? nullptr : &table_.at(flow->lru_newer);
    if (flow->upstream && flow->backend != balance::kNoBackend) {
      HandedFlow handed;
      handed.state.listener = listener_->name;
      handed.state.pool = pool_->config->name;
      handed.state.backend = pool_->config->backends[flow->backend].name;
      handed.state.client_address.assign(reinterpret_cast<const char*>(&flow->client.addr),
                                         flow->client.len);
      handed.state.socket_cookie = socket_cookie_;
      // The registration belongs to the socket, which lives on in the new process.
      env_.loop->remove(flow->upstream.get());
      handed.upstream = std::move(flow->upstream);
      releaseFlow(*flow, FlowEnd::kHandedOver);
      out.push_back(std::move(handed));
    }
    flow = newer;
  }
}

bool DatagramListener::takeOverFlow(const FlowHandoff& state, std::uint32_t backend,
                                    base::Fd upstream) {
  FlowKey key;
  key.len = static_cast<socklen_t>(std::min(state.client_address.size(), sizeof(key.addr)));
  std::memcpy(&key.addr, state.client_address.data(), key.len);
  const auto* addr = reinterpret_cast<const sockaddr*>(&key.addr);
  const std::uint64_t hash = hashFlowKey(addr, key.len);
  // The listening socket is shared from the start of the upgrade, so the client's next datagram
  // can reach this process before its flow does, and start a flow here to whichever backend the
  // balancer picks. The handed flow wins: the client keeps its backend (at worst the reply to
  // that one datagram, sent elsewhere, is lost), as a flow must across an upgrade.
  if (Flow* early = table_.find(addr, key.len, hash); early != nullptr) {
    if (early->backend == backend) return false;
    releaseFlow(*early, FlowEnd::kHandedOver);
  }
  if (table_.full()) return false;
  SourceKey source;
  if (source_limiter_ && SourceKey::from(addr, key.len, source) &&
      source_limiter_->admit(source, env_.loop->now()) != SourceLimiter::Verdict::kAdmitted) {
    return false;
  }
  const std::int64_t now = env_.loop->now();
  Flow& flow = table_.insert(addr, key.len, hash, now);
  if (pool_->config->send_proxy == config::SendProxy::kV2) {
    flow.proxy_header =
        proto::encodeProxyV2(key.len == 0 ? nullptr : addr, key.len,
                             local_len_ == 0 ? nullptr : reinterpret_cast<const sockaddr*>(&local_),
                             local_len_, proto::ProxyTransport::kDgram, {});
  }
  flow.upstream_handler.owner = this;
  flow.upstream_handler.index = flow.index;
  flow.upstream = std::move(upstream);
  flow.backend = backend;
  flow.attempts = 1;
  pool_->balancer->onConnectionOpened(backend);
  env_.stats->flows_created.add();
  env_.stats->flows_active.add();
  auto added = env_.loop->add(flow.upstream.get(), EPOLLIN, &flow.upstream_handler);
  if (!added) {
    base::logWarn("listener \"{}\": cannot watch a flow handed over: {}", listener_->name,
                  added.error().message());
    endFlow(flow, FlowEnd::kNoBackend);
    return false;
  }
  if (!scheduled()) env_.loop->timers().schedule(this, now + listener_->flow_idle_timeout.count());
  return true;
}

}  // namespace l4lb::proxy
