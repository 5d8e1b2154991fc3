#pragma once

#include <cstddef>

#include "proxy/session.h"

namespace l4lb::proxy {

// The sessions of one worker, linked through the sessions themselves (no allocation per
// connection beyond the session). The list owns them: what it holds at destruction is deleted.
class SessionList {
 public:
  SessionList() = default;
  SessionList(const SessionList&) = delete;
  SessionList& operator=(const SessionList&) = delete;
  ~SessionList() {
    while (head_ != nullptr) delete unlink(head_);
  }

  void pushFront(Session* session) {
    session->prev = nullptr;
    session->next = head_;
    if (head_ != nullptr) head_->prev = session;
    head_ = session;
    ++size_;
  }

  // Removes `session` from the list and hands ownership back to the caller.
  Session* unlink(Session* session) {
    if (session->prev != nullptr) session->prev->next = session->next;
    if (session->next != nullptr) session->next->prev = session->prev;
    if (head_ == session) head_ = session->next;
    session->prev = session->next = nullptr;
    --size_;
    return session;
  }

  [[nodiscard]] Session* head() const { return head_; }
  [[nodiscard]] std::size_t size() const { return size_; }
  [[nodiscard]] bool empty() const { return size_ == 0; }

 private:
  Session* head_ = nullptr;
  std::size_t size_ = 0;
};

}  // namespace l4lb::proxy
