#include "proxy/source_limiter.h"

#include <netinet/in.h>

#include <algorithm>

namespace l4lb::proxy {

bool SourceKey::from(const ClientAddress& address, SourceKey& key) {
  return from(&address.addr.sa, address.len, key);
}

bool SourceKey::from(const sockaddr* address, socklen_t length, SourceKey& key) {
  if (address == nullptr) return false;
  if (address->sa_family == AF_INET && length >= sizeof(sockaddr_in)) {
    key.bytes = {};
    key.bytes[10] = key.bytes[11] = 0xff;
    std::memcpy(key.bytes.data() + 12, &reinterpret_cast<const sockaddr_in*>(address)->sin_addr, 4);
    return true;
  }
  if (address->sa_family == AF_INET6 && length >= sizeof(sockaddr_in6)) {
    std::memcpy(key.bytes.data(), &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, 16);
    return true;
  }
  return false;
}

std::size_t SourceKeyHash::operator()(const SourceKey& key) const noexcept {
  std::uint64_t a = 0;
  std::uint64_t b = 0;
  std::memcpy(&a, key.bytes.data(), 8);
  std::memcpy(&b, key.bytes.data() + 8, 8);
  std::uint64_t h = (a ^ (b * 0x9e3779b97f4a7c15ULL)) * 0xbf58476d1ce4e5b9ULL;
  return static_cast<std::size_t>(h ^ (h >> 31));
}

SourceLimiter::Verdict SourceLimiter::admit(const SourceKey& key, std::int64_t now) {
  auto [it, inserted] = entries_.try_emplace(key);
  Entry& entry = it->second;
  if (inserted) entry.bucket = base::TokenBucket(limits_.rate, now);
  if (limits_.max_connections > 0 && entry.connections >= limits_.max_connections) {
    return Verdict::kTooManyConnections;
  }
  if (limits_.rate.enabled() && !entry.bucket.take(limits_.rate, now)) {
    return Verdict::kRateExceeded;
  }
  ++entry.connections;
  if (entries_.size() >= sweep_at_) forgetIdle(now);
  return Verdict::kAdmitted;
}

void SourceLimiter::release(const SourceKey& key, std::int64_t now) {
  auto it = entries_.find(key);
  if (it == entries_.end() || it->second.connections == 0) return;
  if (--it->second.connections == 0 &&
      (!limits_.rate.enabled() || it->second.bucket.full(limits_.rate, now))) {
    entries_.erase(it);
  }
}

void SourceLimiter::forgetIdle(std::int64_t now) {
  std::erase_if(entries_, [&](const auto& item) {
    const Entry& entry = item.second;
    return entry.connections == 0 &&
           (!limits_.rate.enabled() || entry.bucket.full(limits_.rate, now));
  });
  // Sweep again only when the table has doubled, so admission stays O(1) on average.
  sweep_at_ = std::max<std::size_t>(1024, entries_.size() * 2);
}

}  // namespace l4lb::proxy
