#include "io/poller.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <thread>

#include "base/fd.h"
#include "io/event_loop.h"

namespace l4lb::io {
namespace {

struct SocketPair {
  base::Fd ours;
  base::Fd peer;
};

SocketPair makePair() {
  int fds[2];
  EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds), 0);
  return {base::Fd(fds[0]), base::Fd(fds[1])};
}

void send(const base::Fd& fd, const char* text) {
  ASSERT_GT(::write(fd.get(), text, std::strlen(text)), 0);
}

// Both backends must behave alike: the session code does not know which one runs it.
class PollerTest : public ::testing::TestWithParam<IoBackend> {
 protected:
  void SetUp() override {
    auto made = GetParam() == IoBackend::kIoUring ? makeUringPoller(0) : makeEpollPoller();
    ASSERT_TRUE(made) << made.error().message();
    poller_ = std::move(made.value());
  }

  // Waits up to timeout_ms and returns what arrived.
  std::vector<epoll_event> wait(int timeout_ms) {
    std::array<epoll_event, 16> events{};
    int count = 0;
    do {  // the loop retries a wait a signal interrupted; so does this
      count = poller_->wait(events.data(), static_cast<int>(events.size()), timeout_ms);
    } while (count < 0 && errno == EINTR);
    EXPECT_GE(count, 0) << std::strerror(errno);
    return {events.begin(), events.begin() + std::max(count, 0)};
  }

  std::unique_ptr<Poller> poller_;
  int handler_a_ = 0;
  int handler_b_ = 0;
};

TEST_P(PollerTest, ReportsReadinessWithTheHandlerOnce) {
  auto pair = makePair();
  ASSERT_TRUE(poller_->add(pair.ours.get(), EPOLLIN | EPOLLRDHUP | EPOLLET, &handler_a_));
  EXPECT_TRUE(wait(0).empty());
  send(pair.peer, "hello");
  auto events = wait(1000);
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].data.ptr, &handler_a_);
  EXPECT_TRUE(events[0].events & EPOLLIN);
  // Edge-triggered: nothing new, no event, even though the bytes are still unread.
  EXPECT_TRUE(wait(0).empty());
  send(pair.peer, "again");
  EXPECT_EQ(wait(1000).size(), 1U);
}

TEST_P(PollerTest, SeveralArrivalsBetweenWaitsAreOneEvent) {
  auto pair = makePair();
  ASSERT_TRUE(poller_->add(pair.ours.get(), EPOLLIN | EPOLLET, &handler_a_));
  EXPECT_TRUE(wait(0).empty());
  send(pair.peer, "one");
  send(pair.peer, "two");
  send(pair.peer, "three");
  EXPECT_EQ(wait(1000).size(), 1U);
}

TEST_P(PollerTest, ReportsWritableAndPeerClose) {
  auto pair = makePair();
  ASSERT_TRUE(
      poller_->add(pair.ours.get(), EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, &handler_a_));
  auto events = wait(1000);
  ASSERT_EQ(events.size(), 1U);
  EXPECT_TRUE(events[0].events & EPOLLOUT);
  pair.peer.reset();
  events = wait(1000);
  ASSERT_EQ(events.size(), 1U);
  EXPECT_TRUE(events[0].events & (EPOLLRDHUP | EPOLLHUP));
}

TEST_P(PollerTest, RemovedDescriptorIsSilentAndItsSocketCloses) {
  auto pair = makePair();
  ASSERT_TRUE(poller_->add(pair.ours.get(), EPOLLIN | EPOLLET, &handler_a_));
  EXPECT_TRUE(wait(0).empty());
  poller_->remove(pair.ours.get());
  pair.ours.reset();
  EXPECT_TRUE(wait(0).empty());
  // The peer sees the close: no poll request kept the socket open.
  char byte = 0;
  EXPECT_EQ(::read(pair.peer.get(), &byte, 1), 0);
}

TEST_P(PollerTest, ReusedNumberReportsOnlyTheNewHandler) {
  auto first = makePair();
  ASSERT_TRUE(poller_->add(first.ours.get(), EPOLLIN | EPOLLET, &handler_a_));
  send(first.peer, "stale");  // an event of the old registration may be on its way
  poller_->remove(first.ours.get());
  const int number = first.ours.get();
  first.ours.reset();
  auto second = makePair();
  // Descriptors take the lowest free number: the new socket gets the old one's.
  ASSERT_EQ(second.ours.get(), number);
  ASSERT_TRUE(poller_->add(second.ours.get(), EPOLLIN | EPOLLET, &handler_b_));
  send(second.peer, "fresh");
  auto events = wait(1000);
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].data.ptr, &handler_b_);
}

TEST_P(PollerTest, ModifyChangesTheEventsAndHandler) {
  auto pair = makePair();
  ASSERT_TRUE(poller_->add(pair.ours.get(), EPOLLIN | EPOLLET, &handler_a_));
  EXPECT_TRUE(wait(0).empty());  // writable, but not asked for
  ASSERT_TRUE(poller_->modify(pair.ours.get(), EPOLLOUT | EPOLLET, &handler_b_));
  auto events = wait(1000);
  ASSERT_EQ(events.size(), 1U);
  EXPECT_EQ(events[0].data.ptr, &handler_b_);
  EXPECT_TRUE(events[0].events & EPOLLOUT);
  EXPECT_FALSE(poller_->modify(pair.peer.get(), EPOLLIN, &handler_a_));  // never added
}

TEST_P(PollerTest, WaitTimesOutWithNothing) { EXPECT_TRUE(wait(20).empty()); }

INSTANTIATE_TEST_SUITE_P(Backends, PollerTest,
                         ::testing::Values(IoBackend::kEpoll, IoBackend::kIoUring),
                         [](const auto& param_info) {
                           return std::string(backendName(param_info.param));
                         });

TEST(IoUringLoop, RunsPostedTasksAndTimersOnItsOwnThread) {
  auto made = EventLoop::create({.backend = IoBackend::kIoUring, .batch_wait_us = 50});
  ASSERT_TRUE(made) << made.error().message();
  EventLoop& loop = *made.value();
  struct StopTimer : Timer {
    EventLoop* loop = nullptr;
    std::atomic<bool> fired{false};
    void onTimer() override {
      fired = true;
      loop->stop();
    }
  } timer;
  timer.loop = &loop;
  std::atomic<bool> posted_ran{false};
  std::thread runner([&] { loop.run(); });
  loop.post([&] {
    posted_ran = true;
    loop.timers().schedule(&timer, loop.now() + 10);
  });
  runner.join();
  EXPECT_TRUE(posted_ran);
  EXPECT_TRUE(timer.fired);
}

TEST(BackendChoice, ConfigWinsOverEnvironmentWhichWinsOverEpoll) {
  std::string error;
  ::unsetenv("L4LB_IO");
  EXPECT_EQ(chooseBackend(std::nullopt, error), IoBackend::kEpoll);
  ::setenv("L4LB_IO", "io_uring", 1);
  EXPECT_EQ(chooseBackend(std::nullopt, error), IoBackend::kIoUring);
  EXPECT_EQ(chooseBackend(false, error), IoBackend::kEpoll);
  ::setenv("L4LB_IO", "kqueue", 1);
  EXPECT_EQ(chooseBackend(std::nullopt, error), std::nullopt);
  EXPECT_EQ(error, "L4LB_IO=\"kqueue\": expected \"epoll\" or \"io_uring\"");
  EXPECT_EQ(chooseBackend(true, error), IoBackend::kIoUring);
  ::unsetenv("L4LB_IO");
}

}  // namespace
}  // namespace l4lb::io
