#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

namespace l4lb::io {

// How a worker's loop learns that its descriptors are ready (`[global] io`).
enum class IoBackend : std::uint8_t { kEpoll, kIoUring };

// Readiness source of an EventLoop. Both backends speak epoll's event bits and edge-triggered
// semantics (an event per change of readiness), so handlers do not know which one runs them.
class Poller {
 public:
  virtual ~Poller() = default;

  // Owners remove() a descriptor before closing it: an io_uring poll request keeps the file open
  // (epoll would forget it on close).
  [[nodiscard]] virtual base::SysResult<bool> add(int fd, std::uint32_t events, void* handler) = 0;
  [[nodiscard]] virtual base::SysResult<bool> modify(int fd, std::uint32_t events,
                                                     void* handler) = 0;
  virtual void remove(int fd) = 0;

  // Fills `events` (data.ptr = the handler given to add) and returns how many, 0 on timeout,
  // -1 with errno on failure. timeout_ms: -1 blocks, 0 only looks.
  virtual int wait(epoll_event* events, int max_events, int timeout_ms) = 0;

  // Carries out removals still queued, so the sockets they hold close now, for a loop that stops
  // without waiting again (a draining worker with nothing open closes its listeners and ends).
  virtual void settle() {}

  [[nodiscard]] virtual std::string_view name() const = 0;
};

[[nodiscard]] std::string_view backendName(IoBackend backend);

// The configured backend (true: io_uring), or when the config does not say, the environment's
// L4LB_IO ("epoll" | "io_uring"; how the tests run everything on either), else epoll.
std::optional<IoBackend> chooseBackend(std::optional<bool> configured_io_uring, std::string& error);

base::SysResult<std::unique_ptr<Poller>> makeEpollPoller();

// `batch_wait_us` > 0: after a wake-up that found several events, the next wait sleeps up to
// that long for a batch rather than waking at the first event (wake-up coalescing; 0: off).
base::SysResult<std::unique_ptr<Poller>> makeUringPoller(std::uint32_t batch_wait_us);

}  // namespace l4lb::io
