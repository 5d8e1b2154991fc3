#include <sys/epoll.h>

#include "base/fd.h"
#include "io/poller.h"

namespace l4lb::io {
namespace {

class EpollPoller final : public Poller {
 public:
  explicit EpollPoller(base::Fd epoll) : epoll_(std::move(epoll)) {}

  base::SysResult<bool> add(int fd, std::uint32_t events, void* handler) override {
    return control(EPOLL_CTL_ADD, fd, events, handler, "epoll_ctl add");
  }
  base::SysResult<bool> modify(int fd, std::uint32_t events, void* handler) override {
    return control(EPOLL_CTL_MOD, fd, events, handler, "epoll_ctl mod");
  }
  void remove(int fd) override {
    // Failure means the descriptor was not registered, which is what the caller wants anyway.
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_DEL, fd, nullptr);
  }
  int wait(epoll_event* events, int max_events, int timeout_ms) override {
    return ::epoll_wait(epoll_.get(), events, max_events, timeout_ms);
  }
  std::string_view name() const override { return "epoll"; }

 private:
  base::SysResult<bool> control(int op, int fd, std::uint32_t events, void* handler,
                                const char* what) {
    epoll_event ev{};
    ev.events = events;
    ev.data.ptr = handler;
    if (::epoll_ctl(epoll_.get(), op, fd, &ev) != 0) return base::lastError(what);
    return true;
  }

  base::Fd epoll_;
};

}  // namespace

base::SysResult<std::unique_ptr<Poller>> makeEpollPoller() {
  base::Fd epoll(::epoll_create1(EPOLL_CLOEXEC));
  if (!epoll) return base::lastError("epoll_create1");
  return std::unique_ptr<Poller>(new EpollPoller(std::move(epoll)));
}

}  // namespace l4lb::io
