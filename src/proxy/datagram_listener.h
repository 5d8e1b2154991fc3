#pragma once

#include <array>
#include <cstdint>
#include <vector>

#include "base/fd.h"
#include "base/log_throttle.h"
#include "base/result.h"
#include "config/config.h"
#include "io/event_loop.h"
#include "io/timer_queue.h"
#include "proto/proxy_protocol.h"
#include "proxy/datagram_buffers.h"
#include "proxy/datagram_stats.h"
#include "proxy/flow_log.h"
#include "proxy/flow_table.h"
#include "proxy/handoff_state.h"
#include "proxy/pool_state.h"
#include "proxy/source_limiter.h"

namespace l4lb::proxy {

// What a datagram listener needs from the worker that owns it. All on the worker's thread.
struct DatagramEnv {
  io::EventLoop* loop = nullptr;
  DatagramBuffers* buffers = nullptr;
  DatagramStats* stats = nullptr;
  const AccessLog* access_log = nullptr;
  base::LogThrottle* failure_log = nullptr;  // for flows that could not be set up
};

// One worker's side of a datagram listener (udp://, unixgram:// or mq://): the socket or queue,
// and the flows it has seen.
//
// Client to backend: recvmmsg a batch (level-triggered, a bounded number of batches per wakeup),
// find or start each datagram's flow, group the batch by flow and sendmmsg each group on that
// flow's connected upstream socket (mq_send per message to an mq:// backend).
// Backend to client: a flow's socket is readable -> recvmmsg its replies -> sendmmsg them from
// the listener's socket to the client's address. A flow ends after `responses` replies per
// client datagram (when set), after flow_idle_timeout without traffic (one timer per listener
// sweeps the LRU tail), when evicted as the oldest of a full table, or at shutdown.
// A refused send or receive on a flow's socket (ICMP port or host unreachable, or no Unix
// receiver) moves the flow to another backend, never one it already tried, and counts against
// the backend in this worker's passive health (eject_after); a reply, or a flow that ends
// without a refusal, counts for it.
class DatagramListener final : public io::EventHandler, public io::Timer, public FlowEvents {
 public:
  DatagramListener(const DatagramEnv& env, const config::ListenerConfig& listener, PoolState& pool);
  ~DatagramListener() override;
  DatagramListener(const DatagramListener&) = delete;
  DatagramListener& operator=(const DatagramListener&) = delete;

  // Binds the socket (opens the queue) and starts watching it.
  // `workers`: how many workers share a reuse_port socket (for per-source steering).
  // `passed`: a socket bound by the service manager, served in place of binding one.
  [[nodiscard]] base::Result<void> open(bool reuse_port, std::uint32_t workers = 1,
                                        base::Fd passed = {});
  // Serves a socket received from the old process in a binary upgrade (udp://, unixgram://).
  [[nodiscard]] base::Result<void> openTakenOver(base::Fd socket);
  // Duplicates the listening socket (binary upgrade); invalid for mq:// (the new process opens
  // the queue by name) or when closed.
  [[nodiscard]] base::Fd duplicateSocket() const;
  // SO_COOKIE of the listening socket (0 for mq://): which of a listener's sockets this is.
  [[nodiscard]] std::uint64_t socketCookie() const { return socket_cookie_; }
  // Stops (false) or resumes (true) reading the socket; flows and their replies go on.
  void setReceiving(bool receiving);
  // Binary upgrade (datagram_handoff.cc): takes apart the flows whose replies come through a
  // socket of their own (udp:// and unixgram:// backends), each ended here without a trace.
  struct HandedFlow {
    FlowHandoff state;
    base::Fd upstream;
  };
  void handOffFlows(std::vector<HandedFlow>& out);
  // The new process's side: a flow the old process handed over, to backend `backend` of the
  // pool, whose replies arrive on `upstream`. False (and nothing kept) when it cannot be had.
  bool takeOverFlow(const FlowHandoff& state, std::uint32_t backend, base::Fd upstream);
  // Stops receiving and ends every flow (drain: datagram flows are not waited for).
  void close();
  // A reload kept this listener's bind: serve `listener` with `pool` from now on. Each flow
  // keeps its backend when the new pool has one of that name and address; a flow whose backend
  // is gone picks a new one with its next datagram. (max_flows and per_source_max_flows keep
  // the values the listener was opened with.)
  void carryOver(const config::ListenerConfig& listener, PoolState& pool);
  [[nodiscard]] const config::ListenerConfig& listener() const { return *listener_; }

  void onEvents(std::uint32_t events) override;
  void onTimer() override;
  void onFlowEvents(std::uint32_t flow_index, std::uint32_t events) override;

  [[nodiscard]] std::uint32_t flowCount() const { return table_.size(); }

 private:
  static constexpr std::size_t kBatch = DatagramBuffers::kBatch;

  [[nodiscard]] base::Result<void> watch();
  // Client side (datagram_forward.cc).
  [[nodiscard]] std::size_t receive();
  void forward(std::size_t count);
  // proxy_protocol = "accept": checks the sender and takes the v2 header off datagram `i`;
  // `client` becomes the address the header names. False: dropped (and counted).
  [[nodiscard]] bool unwrapProxyHeader(std::size_t i, const sockaddr*& client, socklen_t& len);
  Flow* startFlow(const sockaddr* addr, socklen_t len, std::uint64_t hash);
  void enqueue(Flow& flow, std::size_t datagram);
  void flush();
  void endFlow(Flow& flow, FlowEnd reason);
  // What ending a flow gives back (counters, balancer, source limit, table slot), without the
  // access log line: also how a flow handed to a new process leaves this one.
  void releaseFlow(Flow& flow, FlowEnd reason);
  void logFlow(const Flow& flow, FlowEnd reason) const;

  // Backend side (datagram_upstream.cc).
  [[nodiscard]] bool bindBackend(Flow& flow);
  // 0, or the errno; `here` is set when the failure is this host's (descriptors, memory, the
  // source address), not the backend's.
  [[nodiscard]] int openUpstream(Flow& flow, std::uint32_t backend, bool& here);
  [[nodiscard]] bool moveFlow(Flow& flow);
  void leaveDownBackend(Flow& flow);
  void sendGroup(Flow& flow, const std::uint8_t* datagrams, std::size_t count);
  void sendToQueue(Flow& flow, const std::uint8_t* datagrams, std::size_t count);
  void relayReplies(Flow& flow, std::uint32_t events);
  // A receive on the flow's socket failed with `error`: a refusal moves the flow; an error that
  // is not the backend's is counted and the socket's error queue emptied.
  void onUpstreamError(Flow& flow, int error, std::uint32_t events);
  // Passive health (eject_after): what this worker saw of a backend.
  void backendFailed(std::uint32_t backend);
  void backendAnswered(std::uint32_t backend);
  void logSetupFailure(std::uint32_t backend, int error) const;
  [[nodiscard]] bool hasReturnPath(const Flow& flow) const;

  DatagramEnv env_;
  const config::ListenerConfig* listener_;
  PoolState* pool_;
  FlowTable table_;
  std::unique_ptr<SourceLimiter> source_limiter_;  // per_source_max_flows, when set
  base::Fd fd_;
  std::uint64_t socket_cookie_ = 0;
  bool is_queue_ = false;
  bool unlink_path_ = false;
  bool receiving_ = true;
  std::vector<base::Fd> queues_;  // per backend: an mq:// backend's queue, opened on first use
  std::string queue_message_;     // mq:// backends with send_proxy: header + datagram
  sockaddr_storage local_{};      // the listener's own address, for PROXY headers
  socklen_t local_len_ = 0;
  // The current datagram's received PROXY header (proxy_protocol = "accept"): what it says, for
  // a flow it starts.
  proto::ProxyHeader received_;

  // The current batch's send groups: one per flow, each listing that flow's datagrams.
  std::uint32_t batch_seq_ = 1;
  std::size_t groups_ = 0;
  std::array<std::uint32_t, kBatch> group_flow_{};
  std::array<std::uint8_t, kBatch> group_len_{};
  std::array<std::array<std::uint8_t, kBatch>, kBatch> group_items_{};
};

// Sends msgs[0..count) with sendmmsg, retrying on EINTR. Returns how many went; when fewer than
// `count`, `error` holds the errno that stopped it.
[[nodiscard]] std::size_t sendDatagrams(int fd, mmsghdr* msgs, std::size_t count, int& error);

}  // namespace l4lb::proxy
