#include "io/timer_queue.h"

#include <algorithm>
#include <limits>

namespace l4lb::io {

void TimerQueue::place(std::size_t index, Timer* timer) {
  heap_[index] = timer;
  timer->heap_index_ = index;
}

void TimerQueue::siftUp(std::size_t index) {
  Timer* timer = heap_[index];
  while (index > 0) {
    std::size_t parent = (index - 1) / 2;
    if (heap_[parent]->deadline_ <= timer->deadline_) break;
    place(index, heap_[parent]);
    index = parent;
  }
  place(index, timer);
}

void TimerQueue::siftDown(std::size_t index) {
  Timer* timer = heap_[index];
  const std::size_t count = heap_.size();
  while (true) {
    std::size_t child = 2 * index + 1;
    if (child >= count) break;
    if (child + 1 < count && heap_[child + 1]->deadline_ < heap_[child]->deadline_) ++child;
    if (timer->deadline_ <= heap_[child]->deadline_) break;
    place(index, heap_[child]);
    index = child;
  }
  place(index, timer);
}

void TimerQueue::schedule(Timer* timer, std::int64_t deadline) {
  if (timer->scheduled()) {
    std::int64_t old = timer->deadline_;
    timer->deadline_ = deadline;
    if (deadline < old) {
      siftUp(timer->heap_index_);
    } else {
      siftDown(timer->heap_index_);
    }
    return;
  }
  timer->deadline_ = deadline;
  heap_.push_back(timer);
  siftUp(heap_.size() - 1);
}

void TimerQueue::removeAt(std::size_t index) {
  Timer* removed = heap_[index];
  Timer* last = heap_.back();
  heap_.pop_back();
  removed->heap_index_ = Timer::kNotScheduled;
  if (index < heap_.size()) {
    place(index, last);
    siftUp(index);
    siftDown(last->heap_index_);
  }
}

void TimerQueue::cancel(Timer* timer) {
  if (timer->scheduled()) removeAt(timer->heap_index_);
}

int TimerQueue::millisUntilNext(std::int64_t now) const {
  if (heap_.empty()) return -1;
  std::int64_t wait = heap_.front()->deadline_ - now;
  if (wait <= 0) return 0;
  return static_cast<int>(std::min<std::int64_t>(wait, std::numeric_limits<int>::max()));
}

void TimerQueue::runDue(std::int64_t now) {
  while (!heap_.empty() && heap_.front()->deadline_ <= now) {
    Timer* timer = heap_.front();
    removeAt(0);
    timer->onTimer();
  }
}

}  // namespace l4lb::io
