// The backend side of DatagramListener: binding a flow to a backend, sending a flow's datagrams
// to it, relaying its replies, and moving a flow off a backend that refuses it.

#include <mqueue.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <span>

#include "balance/flow_hash.h"
#include "base/log.h"
#include "net/datagram_socket.h"
#include "net/message_queue.h"
#include "net/socket.h"
#include "proxy/backend_source.h"
#include "proxy/datagram_listener.h"

namespace l4lb::proxy {

namespace {

// Replies read from one flow per readiness event before other events get their turn.
constexpr int kMaxReplyBatches = 4;

}  // namespace

std::size_t sendDatagrams(int fd, mmsghdr* msgs, std::size_t count, int& error) {
  std::size_t done = 0;
  while (done < count) {
    int sent = ::sendmmsg(fd, msgs + done, static_cast<unsigned>(count - done), MSG_DONTWAIT);
    if (sent > 0) {
      done += static_cast<std::size_t>(sent);
      continue;
    }
    if (sent < 0 && errno == EINTR) continue;
    error = sent < 0 ? errno : EAGAIN;
    break;
  }
  return done;
}

bool DatagramListener::hasReturnPath(const Flow& flow) const {
  return flow.reply_to_len != 0 || (!is_queue_ && flow.client.len > sizeof(sa_family_t));
}

bool DatagramListener::bindBackend(Flow& flow) {
  const auto& pool = *pool_->config;
  const std::uint32_t max_attempts =
      std::min<std::uint32_t>(pool.retries + 1, static_cast<std::uint32_t>(kMaxFlowAttempts));
  while (flow.attempts < max_attempts) {
    balance::PickRequest request;
    request.flow_hash = balance::hashClient(
        flow.client.len == 0 ? nullptr : reinterpret_cast<const sockaddr*>(&flow.client.addr),
        pool.hash_key);
    request.exclude = std::span<const std::uint32_t>(flow.failed.data(), flow.failed_count);
    std::uint32_t index = pool_->balancer->pick(request);
    if (index == balance::kNoBackend) return false;
    ++flow.attempts;
    bool here = false;
    int error = openUpstream(flow, index, here);
    if (error == 0) {
      flow.backend = index;
      pool_->balancer->onConnectionOpened(index);
      return true;
    }
    logSetupFailure(index, error);
    // Out of descriptors or memory here, or no source address: another backend would fare no
    // better.
    if (here) return false;
    env_.stats->backend_unreachable.add();
    backendFailed(index);
    if (flow.failed_count < kMaxFlowAttempts) flow.failed[flow.failed_count++] = index;
  }
  return false;
}

int DatagramListener::openUpstream(Flow& flow, std::uint32_t backend, bool& here) {
  const config::BackendConfig& config = pool_->config->backends[backend];
  if (config.address.kind == net::EndpointKind::kMessageQueue) {
    // One-way: the queue is opened once per worker and listener, and no socket is needed.
    if (!queues_[backend]) {
      auto queue = net::openMessageQueue(config.address, /*for_reading=*/false, config.mq);
      if (!queue) {
        here = net::isLocalShortage(queue.error().code);
        return queue.error().code;
      }
      queues_[backend] = std::move(queue.value());
    }
    return 0;
  }
  auto source =
      backendSource(pool_->config->source, reinterpret_cast<const sockaddr*>(&flow.client.addr),
                    flow.client.len, config.address.family());
  base::Result<base::Fd> opened = source ? net::openDatagram(config.address, source.value())
                                         : base::Result<base::Fd>(source.error());
  if (!opened) {
    here = true;
    return opened.error().code;
  }
  if (::connect(opened.value().get(), config.address.sockaddrPtr(), config.address.addr_len) != 0) {
    const int error = errno;
    here = net::isLocalShortage(error);
    return error;
  }
  flow.upstream = std::move(opened.value());
  auto added = env_.loop->add(flow.upstream.get(), EPOLLIN, &flow.upstream_handler);
  if (!added) {
    flow.upstream.reset();
    here = net::isLocalShortage(added.error().code);
    return added.error().code;
  }
  return 0;
}

void DatagramListener::backendFailed(std::uint32_t backend) {
  if (pool_->health) (void)pool_->health->onOutcome(backend, /*connected=*/false, env_.loop->now());
}

void DatagramListener::backendAnswered(std::uint32_t backend) {
  if (pool_->health) (void)pool_->health->onOutcome(backend, /*connected=*/true, env_.loop->now());
}

bool DatagramListener::moveFlow(Flow& flow) {
  env_.stats->backend_unreachable.add();
  // Passive health: on this worker, eject_after refusals in a row take the backend out of new
  // flows' picks, so that after the first lost datagram(s) no new flow is sent to it.
  backendFailed(flow.backend);
  if (flow.failed_count < kMaxFlowAttempts) flow.failed[flow.failed_count++] = flow.backend;
  pool_->balancer->onConnectionClosed(flow.backend);
  flow.backend = balance::kNoBackend;
  if (flow.upstream) {
    env_.loop->remove(flow.upstream.get());
    flow.upstream.reset();
  }
  if (!bindBackend(flow)) {
    endFlow(flow, FlowEnd::kNoBackend);
    return false;
  }
  env_.stats->flows_moved.add();
  return true;
}

// The flow's backend went down (its active check failed) after the flow began. A client that
// keeps its socket, as a forwarding resolver may, would otherwise stay on it for as long as it
// sends, since the flow never idles out: it moves to a backend that is up, chosen as a new
// flow's would be. When none is up, or the new socket cannot be had, it stays where it is.
void DatagramListener::leaveDownBackend(Flow& flow) {
  balance::PickRequest request;
  request.flow_hash = balance::hashClient(
      flow.client.len == 0 ? nullptr : reinterpret_cast<const sockaddr*>(&flow.client.addr),
      pool_->config->hash_key);
  const std::uint32_t index = pool_->balancer->pick(request);
  if (index == balance::kNoBackend) return;
  base::Fd previous = std::move(flow.upstream);
  bool here = false;
  const int error = openUpstream(flow, index, here);
  if (error != 0) {
    flow.upstream = std::move(previous);  // still registered with the loop
    logSetupFailure(index, error);
    return;
  }
  if (previous) env_.loop->remove(previous.get());
  pool_->balancer->onConnectionClosed(flow.backend);
  pool_->balancer->onConnectionOpened(index);
  flow.backend = index;
  env_.stats->flows_moved.add();
}

void DatagramListener::sendGroup(Flow& flow, const std::uint8_t* datagrams, std::size_t count) {
  if (!flow.upstream) {
    sendToQueue(flow, datagrams, count);
    return;
  }
  auto& batch = env_.buffers->from_clients;
  auto& send = env_.buffers->send;
  send.clear();
  for (std::size_t k = 0; k < count; ++k) {
    send.add(batch.slot(datagrams[k]), batch.length(datagrams[k]), nullptr, 0, flow.proxy_header);
  }
  int error = 0;
  std::size_t sent = sendDatagrams(flow.upstream.get(), send.msgs(), count, error);
  env_.stats->datagrams_sent.add(sent);
  if (sent == count) return;
  // A refusal is the ICMP error (or closed Unix receiver) left by an earlier datagram, or the
  // route to the backend is gone; the rest of the group goes to the backend the flow moves to.
  if (net::isBackendUnreachable(error)) {
    if (moveFlow(flow)) {
      sendGroup(flow, datagrams + sent, count - sent);
    } else {
      env_.stats->dropped_no_backend.add(count - sent);
    }
    return;
  }
  env_.stats->dropped_send.add(count - sent);
}

void DatagramListener::sendToQueue(Flow& flow, const std::uint8_t* datagrams, std::size_t count) {
  auto& batch = env_.buffers->from_clients;
  int queue = queues_[flow.backend].get();
  for (std::size_t k = 0; k < count; ++k) {
    std::size_t i = datagrams[k];
    const char* message = batch.slot(i);
    std::size_t length = batch.length(i);
    if (!flow.proxy_header.empty()) {
      // One message is one buffer: the header and the datagram are put together in a scratch
      // buffer that keeps its capacity.
      queue_message_.assign(flow.proxy_header);
      queue_message_.append(message, length);
      message = queue_message_.data();
      length = queue_message_.size();
    }
    if (::mq_send(queue, message, length, 0) == 0) {
      env_.stats->datagrams_sent.add();
    } else if (errno == EMSGSIZE) {
      env_.stats->dropped_too_large.add();
    } else if (errno == EAGAIN) {
      env_.stats->dropped_queue_full.add();
    } else {
      env_.stats->dropped_send.add();
    }
  }
}

void DatagramListener::onFlowEvents(std::uint32_t flow_index, std::uint32_t events) {
  // An event can outlive its flow within one epoll batch: the slot then holds nothing (ignored)
  // or a newer flow, whose own socket is read, so nothing is misdelivered.
  Flow& flow = table_.at(flow_index);
  if (flow.live && flow.upstream) relayReplies(flow, events);
}

void DatagramListener::onUpstreamError(Flow& flow, int error, std::uint32_t events) {
  if (error == EAGAIN || error == EWOULDBLOCK || error == EINTR) {
    // Nothing to read, but an error may be queued (IP_RECVERR) whose errno a send took already:
    // EPOLLERR stays set until the queue is empty.
    if ((events & EPOLLERR) == 0) return;
    error = net::takeQueuedError(flow.upstream.get());
    if (error == 0) return;
  } else if (!net::isBackendUnreachable(error)) {
    // Not the backend's doing (a too-large datagram for the path, say): counted, and the queue
    // emptied so that the socket stops signalling.
    env_.stats->receive_errors.add();
    (void)net::takeQueuedError(flow.upstream.get());
    return;
  }
  if (net::isBackendUnreachable(error)) {
    [[maybe_unused]] bool moved = moveFlow(flow);
  }
}

void DatagramListener::relayReplies(Flow& flow, std::uint32_t events) {
  auto& batch = env_.buffers->from_backends;
  auto& send = env_.buffers->send;
  for (int round = 0; round < kMaxReplyBatches; ++round) {
    batch.prepare(/*with_names=*/false);
    int got = ::recvmmsg(flow.upstream.get(), batch.msgs(), kBatch, MSG_DONTWAIT, nullptr);
    if (got <= 0) {
      if (got < 0) onUpstreamError(flow, errno, events);
      return;
    }
    const auto count = static_cast<std::size_t>(got);
    if (round == 0) backendAnswered(flow.backend);
    env_.stats->replies_in.add(count);
    flow.replies += static_cast<std::uint32_t>(count);
    table_.touch(flow, env_.loop->now());
    const bool answerable = hasReturnPath(flow);
    send.clear();
    const std::uint64_t bytes_before = flow.bytes_out;
    for (std::size_t i = 0; i < count; ++i) {
      flow.bytes_out += batch.length(i);
      if (batch.truncated(i)) {
        env_.stats->dropped_truncated.add();
      } else if (answerable && flow.reply_to_len != 0) {
        send.add(batch.slot(i), batch.length(i), reinterpret_cast<const sockaddr*>(&flow.reply_to),
                 flow.reply_to_len);
      } else if (answerable) {
        send.add(batch.slot(i), batch.length(i),
                 reinterpret_cast<const sockaddr*>(&flow.client.addr), flow.client.len);
      }
    }
    env_.stats->bytes_out.add(flow.bytes_out - bytes_before);
    if (!answerable) env_.stats->dropped_no_return.add(count);
    if (send.count() > 0) {
      int error = 0;
      std::size_t sent = sendDatagrams(fd_.get(), send.msgs(), send.count(), error);
      env_.stats->replies_sent.add(sent);
      env_.stats->dropped_send.add(send.count() - sent);
    }
    if (listener_->responses != 0 &&
        flow.replies >= static_cast<std::uint64_t>(listener_->responses) * flow.requests) {
      endFlow(flow, FlowEnd::kCompleted);
      return;
    }
    if (count < kBatch) return;
  }
}

void DatagramListener::logSetupFailure(std::uint32_t backend, int error) const {
  std::uint64_t suppressed = 0;
  if (!env_.failure_log->allow(env_.loop->now(), suppressed)) return;
  base::logWarn("listener \"{}\": cannot open a flow to backend {} of pool \"{}\": {}{}",
                listener_->name, pool_->config->backends[backend].name, pool_->config->name,
                std::strerror(error),
                suppressed == 0 ? std::string()
                                : " (" + std::to_string(suppressed) + " similar lines suppressed)");
}

}  // namespace l4lb::proxy
