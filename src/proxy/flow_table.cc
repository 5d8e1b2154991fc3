#include "proxy/flow_table.h"

#include <cstring>

#include "balance/hash64.h"

namespace l4lb::proxy {

std::uint64_t hashFlowKey(const sockaddr* addr, socklen_t len) {
  // Eight bytes at a time through splitmix: a few multiplies for an IPv4 or IPv6 address.
  const auto* bytes = reinterpret_cast<const std::uint8_t*>(addr);
  std::uint64_t h = balance::kGoldenGamma ^ len;
  socklen_t i = 0;
  for (; i + 8 <= len; i += 8) {
    std::uint64_t word = 0;
    std::memcpy(&word, bytes + i, 8);
    h = balance::mix64(h ^ word) + balance::kGoldenGamma;
  }
  if (i < len) {
    std::uint64_t word = 0;
    std::memcpy(&word, bytes + i, len - i);
    h = balance::mix64(h ^ word);
  }
  return balance::mix64(h);
}

FlowTable::FlowTable(std::uint32_t max_flows) : max_flows_(max_flows == 0 ? 1 : max_flows) {
  index_.assign(16, kNoFlow);
}

std::uint32_t FlowTable::allocateSlot() {
  if (free_.empty()) {
    // Grow by one chunk, never past the bound.
    std::uint32_t first = allocated_;
    chunks_.push_back(std::make_unique<Flow[]>(kChunk));
    allocated_ += kChunk;
    free_.reserve(allocated_);
    for (std::uint32_t i = allocated_; i > first; --i) free_.push_back(i - 1);
  }
  std::uint32_t slot = free_.back();
  free_.pop_back();
  return slot;
}

void FlowTable::growIndex() {
  std::vector<std::uint32_t> old = std::move(index_);
  index_.assign(old.size() * 2, kNoFlow);
  for (std::uint32_t flow : old) {
    if (flow == kNoFlow) continue;
    std::size_t b = home(at(flow).hash);
    while (index_[b] != kNoFlow) b = (b + 1) & (index_.size() - 1);
    index_[b] = flow;
  }
}

Flow* FlowTable::find(const sockaddr* addr, socklen_t len, std::uint64_t hash) {
  const std::size_t mask = index_.size() - 1;
  for (std::size_t b = home(hash);; b = (b + 1) & mask) {
    std::uint32_t i = index_[b];
    if (i == kNoFlow) return nullptr;
    Flow& flow = at(i);
    if (flow.hash == hash && flow.client.len == len &&
        std::memcmp(&flow.client.addr, addr, len) == 0) {
      return &flow;
    }
  }
}

Flow& FlowTable::insert(const sockaddr* addr, socklen_t len, std::uint64_t hash, std::int64_t now) {
  // Keep the index at most half full so probes stay short.
  if ((size_ + 1) * 2 > index_.size()) growIndex();
  std::uint32_t slot = allocateSlot();
  Flow& flow = at(slot);
  flow = Flow{};
  flow.index = slot;
  flow.hash = hash;
  flow.client.len = len;
  if (len > 0) std::memcpy(&flow.client.addr, addr, len);
  flow.live = true;
  flow.started_ms = flow.last_active_ms = now;
  std::size_t b = home(hash);
  while (index_[b] != kNoFlow) b = (b + 1) & (index_.size() - 1);
  index_[b] = slot;
  linkNewest(flow);
  ++size_;
  return flow;
}

void FlowTable::touch(Flow& flow, std::int64_t now) {
  flow.last_active_ms = now;
  if (newest_ == flow.index) return;
  unlink(flow);
  linkNewest(flow);
}

void FlowTable::erase(Flow& flow) {
  const std::size_t mask = index_.size() - 1;
  std::size_t hole = home(flow.hash);
  while (index_[hole] != flow.index) hole = (hole + 1) & mask;
  // Backward-shift deletion: pull later entries of the probe run into the hole, so lookups
  // never need tombstones.
  for (std::size_t next = (hole + 1) & mask; index_[next] != kNoFlow; next = (next + 1) & mask) {
    std::size_t want = home(at(index_[next]).hash);
    bool movable = hole <= next ? (want <= hole || want > next) : (want <= hole && want > next);
    if (movable) {
      index_[hole] = index_[next];
      hole = next;
    }
  }
  index_[hole] = kNoFlow;
  unlink(flow);
  flow.live = false;
  flow.upstream.reset();
  flow.proxy_header.clear();
  free_.push_back(flow.index);
  --size_;
}

Flow* FlowTable::oldest() { return oldest_ == kNoFlow ? nullptr : &at(oldest_); }

void FlowTable::linkNewest(Flow& flow) {
  flow.lru_older = newest_;
  flow.lru_newer = kNoFlow;
  if (newest_ != kNoFlow) at(newest_).lru_newer = flow.index;
  newest_ = flow.index;
  if (oldest_ == kNoFlow) oldest_ = flow.index;
}

void FlowTable::unlink(Flow& flow) {
  if (flow.lru_newer != kNoFlow) {
    at(flow.lru_newer).lru_older = flow.lru_older;
  } else {
    newest_ = flow.lru_older;
  }
  if (flow.lru_older != kNoFlow) {
    at(flow.lru_older).lru_newer = flow.lru_newer;
  } else {
    oldest_ = flow.lru_newer;
  }
  flow.lru_newer = flow.lru_older = kNoFlow;
}

}  // namespace l4lb::proxy
