#pragma once

#include <netinet/in.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "balance/balancer.h"
#include "base/fd.h"
#include "io/event_loop.h"

namespace l4lb::proxy {

// Told about readiness of a flow's upstream socket, by flow index.
class FlowEvents {
 public:
  virtual void onFlowEvents(std::uint32_t flow_index, std::uint32_t events) = 0;

 protected:
  ~FlowEvents() = default;
};

// A client's address as the flow key: the exact bytes recvmmsg wrote (the kernel zeroes the
// padding of IPv4 and IPv6 addresses), `len` of them. An unnamed Unix sender has just the family;
// an mq:// listener has no address at all (len 0): every such sender is one flow.
struct FlowKey {
  sockaddr_storage addr{};
  socklen_t len = 0;
};

[[nodiscard]] std::uint64_t hashFlowKey(const sockaddr* addr, socklen_t len);

inline constexpr std::uint32_t kNoFlow = UINT32_MAX;
inline constexpr std::size_t kMaxFlowAttempts = 4;  // backends one flow may try

// One flow: a client address bound to one backend. Lives in a FlowTable slot; its address is
// stable for the table's lifetime (slots are allocated in chunks that never move), so the
// upstream socket's epoll registration can point into it.
struct Flow {
  struct Upstream final : io::EventHandler {
    FlowEvents* owner = nullptr;
    std::uint32_t index = kNoFlow;
    void onEvents(std::uint32_t events) override { owner->onFlowEvents(index, events); }
  };

  FlowKey client;
  std::uint64_t hash = 0;
  std::uint32_t index = kNoFlow;  // this slot
  std::uint32_t lru_newer = kNoFlow;
  std::uint32_t lru_older = kNoFlow;
  bool live = false;
  std::int64_t started_ms = 0;
  std::int64_t last_active_ms = 0;

  std::uint32_t backend = balance::kNoBackend;
  base::Fd upstream;           // connected socket to a udp/unixgram backend; none for mq backends
  Upstream upstream_handler;   // what the upstream socket is registered with
  std::uint32_t requests = 0;  // datagrams from the client
  std::uint32_t replies = 0;   // datagrams from the backend
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint8_t attempts = 0;
  std::uint8_t failed_count = 0;
  std::array<std::uint32_t, kMaxFlowAttempts> failed{};  // backends that refused this flow
  // proxy_protocol = "accept": the proxy that sent the client's datagrams, where replies go
  // (without a header). Family AF_UNSPEC: replies go to the client itself.
  sockaddr_in6 reply_to{};
  socklen_t reply_to_len = 0;
  // send_proxy = "v2": the DGRAM header that goes before each of this flow's datagrams. Kept
  // (cleared, not freed) with the slot, so later flows in the slot reuse its allocation.
  std::string proxy_header;

  // Which send group of the current receive batch this flow's datagrams go into.
  std::uint32_t batch_seq = 0;
  std::uint8_t batch_group = 0;
};

// One worker's flows for one listener: at most `max_flows`, found by client address through an
// open-addressing (linear probing, backward-shift deletion) index, and kept in an intrusive LRU
// list by last activity so that both idle expiry and eviction take the oldest in O(1).
// Memory grows with use, in chunks, up to the bound; nothing is allocated per datagram, and
// nothing per flow once the table has grown to its working size.
class FlowTable {
 public:
  explicit FlowTable(std::uint32_t max_flows);
  FlowTable(const FlowTable&) = delete;
  FlowTable& operator=(const FlowTable&) = delete;

  [[nodiscard]] Flow* find(const sockaddr* addr, socklen_t len, std::uint64_t hash);
  // A new flow, the most recent. Requires !full().
  [[nodiscard]] Flow& insert(const sockaddr* addr, socklen_t len, std::uint64_t hash,
                             std::int64_t now);
  // Marks activity: the flow becomes the most recent.
  void touch(Flow& flow, std::int64_t now);
  // Frees the slot; the caller has released what the flow held.
  void erase(Flow& flow);

  [[nodiscard]] Flow* oldest();
  [[nodiscard]] Flow& at(std::uint32_t index) { return chunks_[index / kChunk][index % kChunk]; }
  [[nodiscard]] std::uint32_t size() const { return size_; }
  [[nodiscard]] std::uint32_t maxFlows() const { return max_flows_; }
  [[nodiscard]] bool full() const { return size_ >= max_flows_; }

 private:
  static constexpr std::uint32_t kChunk = 256;

  std::uint32_t allocateSlot();
  void growIndex();
  [[nodiscard]] std::size_t home(std::uint64_t hash) const { return hash & (index_.size() - 1); }
  void linkNewest(Flow& flow);
  void unlink(Flow& flow);

  std::uint32_t max_flows_;
  std::uint32_t size_ = 0;
  std::uint32_t allocated_ = 0;
  std::vector<std::unique_ptr<Flow[]>> chunks_;
  std::vector<std::uint32_t> free_;
  std::vector<std::uint32_t> index_;  // flow index per bucket, kNoFlow when empty
  std::uint32_t newest_ = kNoFlow;
  std::uint32_t oldest_ = kNoFlow;
};

}  // namespace l4lb::proxy
