#pragma once

#include <cstddef>

namespace l4lb::proxy {

class Session;

// Links a Session carries for a SessionQueue (apart from its SessionList links: a queued
// session is in both).
struct QueueLinks {
  Session* prev = nullptr;
  Session* next = nullptr;
  bool queued = false;
};

// One worker's connections waiting for a backend of one pool, first come first served. Intrusive:
// waiting allocates nothing, and a session leaving early (client gone, timeout) unlinks in O(1).
class SessionQueue {
 public:
  void push(Session* session);
  void unlink(Session* session);
  [[nodiscard]] Session* front() const { return head_; }
  [[nodiscard]] bool empty() const { return head_ == nullptr; }
  [[nodiscard]] std::size_t size() const { return size_; }

 private:
  Session* head_ = nullptr;
  Session* tail_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace l4lb::proxy
