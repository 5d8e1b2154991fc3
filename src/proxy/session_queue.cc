#include "proxy/session_queue.h"

#include "proxy/session.h"

namespace l4lb::proxy {

void SessionQueue::push(Session* session) {
  QueueLinks& links = session->queue_links;
  if (links.queued) return;
  links.queued = true;
  links.prev = tail_;
  links.next = nullptr;
  if (tail_ != nullptr) {
    tail_->queue_links.next = session;
  } else {
    head_ = session;
  }
  tail_ = session;
  ++size_;
}

void SessionQueue::unlink(Session* session) {
  QueueLinks& links = session->queue_links;
  if (!links.queued) return;
  if (links.prev != nullptr) {
    links.prev->queue_links.next = links.next;
  } else {
    head_ = links.next;
  }
  if (links.next != nullptr) {
    links.next->queue_links.prev = links.prev;
  } else {
    tail_ = links.prev;
  }
  links = QueueLinks{};
  --size_;
}

}  // namespace l4lb::proxy
