// The client side of DatagramListener: reading a batch from the listener's socket, finding or
// starting each datagram's flow, and sending the batch out grouped by flow.

#include <mqueue.h>

#include <cerrno>
#include <cstring>

#include "proto/proxy_protocol.h"
#include "proxy/access_control.h"
#include "proxy/datagram_listener.h"

namespace l4lb::proxy {

namespace {
// Batches read per wakeup before yielding to other events; the socket is level-triggered, so
// what is left is reported again at once.
constexpr int kMaxBatchesPerWakeup = 8;
}  // namespace

void DatagramListener::onEvents(std::uint32_t /*events*/) {
  for (int round = 0; round < kMaxBatchesPerWakeup && fd_; ++round) {
    std::size_t count = receive();
    if (count == 0) return;
    forward(count);
    if (count < kBatch) return;
  }
}

std::size_t DatagramListener::receive() {
  auto& batch = env_.buffers->from_clients;
  if (is_queue_) {
    batch.prepare(/*with_names=*/false);
    std::size_t count = 0;
    while (count < kBatch) {
      ssize_t got = ::mq_receive(fd_.get(), batch.slot(count), DatagramBuffers::kSlotSize, nullptr);
      if (got < 0) {
        if (errno == EINTR) continue;
        if (errno != EAGAIN) env_.stats->receive_errors.add();
        break;
      }
      batch.msgs()[count].msg_len = static_cast<unsigned>(got);
      ++count;
    }
    return count;
  }
  batch.prepare(/*with_names=*/true);
  int got = ::recvmmsg(fd_.get(), batch.msgs(), kBatch, MSG_DONTWAIT, nullptr);
  if (got < 0) {
    if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
      env_.stats->receive_errors.add();
    }
    return 0;
  }
  return static_cast<std::size_t>(got);
}

void DatagramListener::forward(std::size_t count) {
  auto& batch = env_.buffers->from_clients;
  const std::int64_t now = env_.loop->now();
  env_.stats->datagrams_in.add(count);
  std::uint64_t bytes = 0;  // of the datagrams taken into flows
  for (std::size_t i = 0; i < count; ++i) {
    if (batch.truncated(i)) {
      env_.stats->dropped_truncated.add();
      continue;
    }
    const sockaddr* addr = batch.name(i);
    // An unnamed Unix sender and an mq:// listener have no address: all such senders share one
    // flow, which has no way back.
    socklen_t len = is_queue_ ? 0 : batch.nameLen(i);
    if (len <= sizeof(sa_family_t)) len = 0;
    const sockaddr* sender = addr;
    const socklen_t sender_len = len;
    if (listener_->proxy_accept && !unwrapProxyHeader(i, addr, len)) continue;
    std::uint64_t hash = hashFlowKey(addr, len);
    Flow* flow = table_.find(addr, len, hash);
    // Down by its checks or ejected, not drained by an operator: a draining backend keeps the
    // flows it has.
    if (flow != nullptr && flow->backend != balance::kNoBackend &&
        !(pool_->health ? pool_->health->servesExisting(flow->backend)
                        : pool_->balancer->isUp(flow->backend))) {
      leaveDownBackend(*flow);
    }
    if (flow == nullptr) flow = startFlow(addr, len, hash);
    if (flow == nullptr) continue;  // counted by startFlow
    if (flow->backend == balance::kNoBackend && !bindBackend(*flow)) {
      // Its backend left the pool in a reload, and no other could be had.
      env_.stats->dropped_no_backend.add();
      endFlow(*flow, FlowEnd::kNoBackend);
      continue;
    }
    if (listener_->proxy_accept && sender_len <= sizeof(flow->reply_to)) {
      // Replies go back the way the datagrams came: to the proxy, which knows the client.
      std::memcpy(&flow->reply_to, sender, sender_len);
      flow->reply_to_len = sender_len;
    }
    ++flow->requests;
    flow->bytes_in += batch.length(i);
    bytes += batch.length(i);
    table_.touch(*flow, now);
    enqueue(*flow, i);
  }
  env_.stats->bytes_in.add(bytes);
  flush();
}

bool DatagramListener::unwrapProxyHeader(std::size_t i, const sockaddr*& client, socklen_t& len) {
  auto& batch = env_.buffers->from_clients;
  if (len == 0 || !listener_->proxy_trusted.contains(client, len)) {
    env_.stats->dropped_proxy_untrusted.add();
    return false;
  }
  char* data = batch.slot(i);
  const std::uint32_t length = batch.length(i);
  proto::ProxyParseResult parsed = proto::parseProxyHeader(std::string_view(data, length));
  // Over datagrams only v2 exists (DGRAM), and the whole header is in the datagram.
  if (parsed.status != proto::ProxyParseStatus::kDone ||
      parsed.header.version != proto::ProxyVersion::kV2) {
    env_.stats->dropped_bad_proxy_header.add();
    return false;
  }
  received_ = std::move(parsed.header);
  const int family = received_.source.family();
  if (received_.command == proto::ProxyCommand::kProxy &&
      (family == AF_INET || family == AF_INET6)) {
    client = received_.source.sockaddrPtr();
    len = received_.source.len;
  }
  const auto consumed = static_cast<std::uint32_t>(parsed.consumed);
  std::memmove(data, data + consumed, length - consumed);
  batch.msgs()[i].msg_len = length - consumed;
  return true;
}

Flow* DatagramListener::startFlow(const sockaddr* addr, socklen_t len, std::uint64_t hash) {
  if (!clientAllowed(*listener_, addr, len)) {
    env_.stats->dropped_acl.add();
    return nullptr;
  }
  SourceKey source;
  if (source_limiter_ && SourceKey::from(addr, len, source) &&
      source_limiter_->admit(source, env_.loop->now()) != SourceLimiter::Verdict::kAdmitted) {
    env_.stats->dropped_source_limit.add();
    return nullptr;
  }
  if (table_.full()) {
    // The datagrams grouped so far go out first: the flow evicted may be one of theirs.
    flush();
    endFlow(*table_.oldest(), FlowEnd::kEvicted);
  }
  const std::int64_t now = env_.loop->now();
  Flow& flow = table_.insert(addr, len, hash, now);
  if (pool_->config->send_proxy == config::SendProxy::kV2) {
    // The address the client sent to: as a received header says, else this listener's.
    const bool received = listener_->proxy_accept && received_.destination.len != 0;
    const sockaddr* destination =
        received ? received_.destination.sockaddrPtr()
                 : (local_len_ == 0 ? nullptr : reinterpret_cast<const sockaddr*>(&local_));
    const socklen_t destination_len = received ? received_.destination.len : local_len_;
    const std::string_view tlvs = listener_->proxy_accept && received_.tlvs.size() <= 1024
                                      ? std::string_view(received_.tlvs)
                                      : std::string_view();
    flow.proxy_header = proto::encodeProxyV2(len == 0 ? nullptr : addr, len, destination,
                                             destination_len, proto::ProxyTransport::kDgram, tlvs);
  }
  flow.upstream_handler.owner = this;
  flow.upstream_handler.index = flow.index;
  env_.stats->flows_created.add();
  env_.stats->flows_active.add();
  if (!bindBackend(flow)) {
    endFlow(flow, FlowEnd::kNoBackend);
    env_.stats->dropped_no_backend.add();
    return nullptr;
  }
  if (!scheduled()) {
    env_.loop->timers().schedule(this, now + listener_->flow_idle_timeout.count());
  }
  return &flow;
}

void DatagramListener::enqueue(Flow& flow, std::size_t datagram) {
  if (flow.batch_seq != batch_seq_) {
    flow.batch_seq = batch_seq_;
    flow.batch_group = static_cast<std::uint8_t>(groups_);
    group_flow_[groups_] = flow.index;
    group_len_[groups_] = 0;
    ++groups_;
  }
  std::uint8_t group = flow.batch_group;
  group_items_[group][group_len_[group]++] = static_cast<std::uint8_t>(datagram);
}

void DatagramListener::flush() {
  for (std::size_t g = 0; g < groups_; ++g) {
    Flow& flow = table_.at(group_flow_[g]);
    if (flow.live) sendGroup(flow, group_items_[g].data(), group_len_[g]);
  }
  groups_ = 0;
  if (++batch_seq_ == 0) batch_seq_ = 1;  // 0 is what a new flow starts with
}

}  // namespace l4lb::proxy
