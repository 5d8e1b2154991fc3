// The io_uring backend of the event loop (`[global] io = "io_uring"`): readiness through
// multishot poll requests, registrations batched into the wait, and, with `io_batch_us`, a wait
// that lets events gather instead of waking at the first one (docs/performance.md, "io_uring").
#include <liburing.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <vector>

#include "io/poller.h"

namespace l4lb::io {
namespace {

// Kernel 6.12 names the former pad of io_uring_getevents_arg min_wait_usec; Debian 12's liburing
// headers predate it.
constexpr unsigned kFeatureMinTimeout = 1U << 15;

// user_data of a poll request: the descriptor in the low half, the registration's generation in
// the high half; the top bit marks the completions of removals, which carry nothing.
constexpr std::uint64_t kRemovalTag = 1ULL << 63;

std::uint64_t tagOf(int fd, std::uint32_t generation) {
  return (static_cast<std::uint64_t>(generation & 0x7fffffffU) << 32) |
         static_cast<std::uint32_t>(fd);
}

// epoll's flags for how to report (edge-triggered, one-shot) have no place in a poll mask: a
// multishot poll already reports each change of readiness once.
std::uint32_t pollMask(std::uint32_t events) { return events & ~(EPOLLET | EPOLLONESHOT); }

class UringPoller final : public Poller {
 public:
  UringPoller(const io_uring& ring, unsigned features, std::uint32_t batch_wait_us)
      : ring_(ring), batch_wait_us_((features & kFeatureMinTimeout) != 0 ? batch_wait_us : 0) {}
  UringPoller(const UringPoller&) = delete;
  UringPoller& operator=(const UringPoller&) = delete;
  ~UringPoller() override { ::io_uring_queue_exit(&ring_); }

  base::SysResult<bool> add(int fd, std::uint32_t events, void* handler) override {
    if (fd < 0) return base::SysError{EBADF, "io_uring poll add"};
    // A registered number handed out again was closed without remove(), which epoll allows;
    // the old poll request still holds that socket open, so it goes now.
    if (static_cast<std::size_t>(fd) < slots_.size()) remove(fd);
    Slot& slot = slotOf(fd);
    slot.handler = handler;
    slot.events = events;
    slot.generation = nextGeneration(slot);
    pending_.push_back(Change{fd, slot.generation, true});
    return true;
  }

  base::SysResult<bool> modify(int fd, std::uint32_t events, void* handler) override {
    if (fd < 0 || static_cast<std::size_t>(fd) >= slots_.size() ||
        slots_[static_cast<std::size_t>(fd)].handler == nullptr) {
      return base::SysError{ENOENT, "io_uring poll modify"};
    }
    remove(fd);
    return add(fd, events, handler);
  }

  void remove(int fd) override {
    if (fd < 0 || static_cast<std::size_t>(fd) >= slots_.size()) return;
    Slot& slot = slots_[static_cast<std::size_t>(fd)];
    if (slot.handler == nullptr) return;
    pending_.push_back(Change{fd, slot.generation, false});
    slot.handler = nullptr;
    // Completions already on their way for the old registration no longer match.
    slot.generation = nextGeneration(slot);
  }

  int wait(epoll_event* events, int max_events, int timeout_ms) override {
    if (!enabled_ && !enable()) return -1;
    if (!flushChanges()) return -1;
    int count = reap(events, max_events);
    if (count > 0) return finish(count);
    if (enter(timeout_ms) < 0) return -1;
    return finish(reap(events, max_events));
  }

  void settle() override {
    if (!enabled_ || !flushChanges()) return;
    (void)enter(0);
  }

  std::string_view name() const override { return "io_uring"; }

 private:
  struct Slot {
    void* handler = nullptr;
    std::uint32_t events = 0;
    std::uint32_t generation = 0;
    std::uint32_t armed = 0;  // generation of the poll request the kernel holds, 0: none
    std::uint32_t stamp = 0;  // reap() that last delivered an event for this slot
    int delivered_at = 0;     // its index in that reap's output
  };
  struct Change {
    int fd;
    std::uint32_t generation;
    bool arm;  // false: remove
  };

  Slot& slotOf(int fd) {
    auto index = static_cast<std::size_t>(fd);
    if (index >= slots_.size()) slots_.resize(std::max(index + 1, slots_.size() * 2));
    return slots_[index];
  }
  static std::uint32_t nextGeneration(const Slot& slot) {
    std::uint32_t next = (slot.generation + 1) & 0x7fffffffU;
    return next == 0 ? 1 : next;
  }

  // The loop is built on the supervisor's thread and runs on the worker's; a single-issuer ring
  // belongs to the thread that first submits, so it starts disabled and is enabled here.
  bool enable() {
    // liburing 2.3 declares io_uring_enable_rings but does not export it.
    if (::syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0) <
        0) {
      return false;
    }
    enabled_ = true;
    // Saves the kernel a descriptor lookup per io_uring_enter; optional.
    registered_ring_ = ::io_uring_register_ring_fd(&ring_) == 1;
    return true;
  }

  io_uring_sqe* nextSqe() {
    io_uring_sqe* sqe = ::io_uring_get_sqe(&ring_);
    if (sqe != nullptr) return sqe;
    ::io_uring_submit(&ring_);
    return ::io_uring_get_sqe(&ring_);
  }

  bool flushChanges() {
    for (const Change& change : pending_) {
      Slot& slot = slots_[static_cast<std::size_t>(change.fd)];
      if (change.arm) {
        // Removed again before it was ever submitted: nothing to arm, nothing to remove.
        if (slot.generation != change.generation || slot.handler == nullptr) continue;
        io_uring_sqe* sqe = nextSqe();
        if (sqe == nullptr) return false;
        ::io_uring_prep_poll_multishot(sqe, change.fd, pollMask(slot.events));
        ::io_uring_sqe_set_data64(sqe, tagOf(change.fd, change.generation));
        slot.armed = change.generation;
      } else {
        if (slot.armed != change.generation) continue;
        io_uring_sqe* sqe = nextSqe();
        if (sqe == nullptr) return false;
        ::io_uring_prep_poll_remove(sqe, tagOf(change.fd, change.generation));
        ::io_uring_sqe_set_data64(sqe, kRemovalTag);
        slot.armed = 0;
      }
    }
    pending_.clear();
    return true;
  }

  int reap(epoll_event* events, int max_events) {
    ++stamp_;
    int count = 0;
    unsigned seen = 0;
    unsigned head = 0;
    io_uring_cqe* cqe = nullptr;
    io_uring_for_each_cqe(&ring_, head, cqe) {
      if (count == max_events) break;
      ++seen;
      std::uint64_t data = cqe->user_data;
      if ((data & kRemovalTag) != 0) continue;
      auto fd = static_cast<int>(data & 0xffffffffU);
      auto generation = static_cast<std::uint32_t>(data >> 32);
      if (fd < 0 || static_cast<std::size_t>(fd) >= slots_.size()) continue;
      Slot& slot = slots_[static_cast<std::size_t>(fd)];
      bool more = (cqe->flags & IORING_CQE_F_MORE) != 0;
      if (!more && slot.armed == generation) slot.armed = 0;
      if (slot.handler == nullptr || slot.generation != generation) continue;
      std::uint32_t mask = 0;
      if (cqe->res >= 0) {
        mask = static_cast<std::uint32_t>(cqe->res);
        // The kernel ends a multishot poll now and then (a full completion queue); the
        // registration stands, so it is armed again.
        if (!more) pending_.push_back(Change{fd, generation, true});
      } else if (cqe->res == -ECANCELED) {
        if (!more) pending_.push_back(Change{fd, generation, true});
      } else {
        mask = EPOLLERR | EPOLLHUP;  // the descriptor cannot be polled: let its owner end it
      }
      if (mask == 0) continue;
      if (slot.stamp == stamp_) {
        events[slot.delivered_at].events |= mask;
        continue;
      }
      slot.stamp = stamp_;
      slot.delivered_at = count;
      events[count].events = mask;
      events[count].data.ptr = slot.handler;
      ++count;
    }
    ::io_uring_cq_advance(&ring_, seen);
    return count;
  }

  int finish(int count) {
    busy_ = count > 1;
    return count;
  }

  // Submits the pending changes and waits for completions: up to timeout_ms for the first, or,
  // after a busy wake-up, up to batch_wait_us for a batch first. The feeding CPUs then do not
  // wake this thread for each event (a cross-CPU interrupt), only its own timer does.
  int enter(int timeout_ms) {
    unsigned to_submit = ::io_uring_sq_ready(&ring_);
    if (to_submit > 0 && timeout_ms == 0) {
      int rc = ::io_uring_submit_and_get_events(&ring_);
      return rc < 0 ? (errno = -rc, -1) : 0;
    }
    if (to_submit > 0) {
      int rc = ::io_uring_submit(&ring_);
      if (rc < 0) return errno = -rc, -1;
    }
    if (timeout_ms == 0) {
      int rc = ::io_uring_get_events(&ring_);
      return rc < 0 ? (errno = -rc, -1) : 0;
    }
    __kernel_timespec ts{};
    io_uring_getevents_arg arg{};
    arg.sigmask = 0;
    arg.sigmask_sz = _NSIG / 8;
    unsigned wait_for = 1;
    if (batch_wait_us_ > 0 && busy_) {
      arg.pad = batch_wait_us_;  // min_wait_usec
      wait_for = kBatch;
    }
    if (timeout_ms > 0) {
      ts.tv_sec = timeout_ms / 1000;
      ts.tv_nsec = static_cast<long long>(timeout_ms % 1000) * 1000000LL;
    } else {
      ts.tv_sec = 3600;  // "forever": a wait with a batch window needs an overall timeout
    }
    arg.ts = reinterpret_cast<std::uint64_t>(&ts);
    unsigned flags = IORING_ENTER_GETEVENTS | IORING_ENTER_EXT_ARG;
    int fd = ring_.ring_fd;
    if (registered_ring_) {
      flags |= IORING_ENTER_REGISTERED_RING;
      fd = ring_.enter_ring_fd;
    }
    long rc = ::syscall(__NR_io_uring_enter, fd, 0U, wait_for, flags, &arg, sizeof(arg));
    if (rc < 0 && (errno == ETIME || errno == EINTR || errno == EAGAIN || errno == EBUSY)) {
      return 0;
    }
    return rc < 0 ? -1 : 0;
  }

  static constexpr unsigned kBatch = 64;

  io_uring ring_;
  std::uint32_t batch_wait_us_;
  bool enabled_ = false;
  bool registered_ring_ = false;
  bool busy_ = false;  // the last wake-up delivered more than one event
  std::uint32_t stamp_ = 0;
  std::vector<Slot> slots_;
  std::vector<Change> pending_;
};

}  // namespace

base::SysResult<std::unique_ptr<Poller>> makeUringPoller(std::uint32_t batch_wait_us) {
  io_uring ring{};
  io_uring_params params{};
  params.flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED |
                 IORING_SETUP_SUBMIT_ALL | IORING_SETUP_CQSIZE;
  params.cq_entries = 8192;
  if (int rc = ::io_uring_queue_init_params(1024, &ring, &params); rc < 0) {
    return base::SysError{-rc, "io_uring_setup"};
  }
  return std::unique_ptr<Poller>(new UringPoller(ring, params.features, batch_wait_us));
}

}  // namespace l4lb::io
