#include "io/event_loop.h"

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <memory>
#include <tuple>
#include <vector>

namespace l4lb::io {
namespace {

// A socketpair whose first end is readable (a byte waits in it).
struct ReadyPair {
  base::Fd near;
  base::Fd far;
  static ReadyPair make(bool readable) {
    std::array<int, 2> fds{};
    EXPECT_EQ(::socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds.data()), 0);
    ReadyPair pair{base::Fd(fds[0]), base::Fd(fds[1])};
    if (readable) {
      EXPECT_EQ(::write(pair.far.get(), "x", 1), 1);
    }
    return pair;
  }
};

// Two handlers, each on its own ready socket. Whichever the loop calls first does what a
// session's retry does to the other: removes and closes its socket, and registers a fresh one
// (not ready) on the same handler. The other's event was fetched in the same batch, before the
// change, and must not be delivered: it is about a socket that is gone.
struct Replacer final : EventHandler {
  EventLoop* loop = nullptr;
  Replacer* other = nullptr;
  ReadyPair* other_pair = nullptr;
  std::vector<ReadyPair>* replacements = nullptr;
  int calls = 0;

  void onEvents(std::uint32_t /*events*/) override {
    ++calls;
    loop->stop();  // one batch only
    if (other->calls > 0) return;
    loop->remove(other_pair->near.get());
    other_pair->near.reset();
    other_pair->far.reset();
    replacements->push_back(ReadyPair::make(/*readable=*/false));
    ASSERT_TRUE(loop->add(replacements->back().near.get(), EPOLLIN, other));
  }
};

TEST(EventLoop, AnEventFetchedForAReplacedRegistrationIsNotDelivered) {
  auto created = EventLoop::create();
  ASSERT_TRUE(created);
  auto loop = std::move(created.value());
  ReadyPair a = ReadyPair::make(true);
  ReadyPair b = ReadyPair::make(true);
  std::vector<ReadyPair> replacements;
  replacements.reserve(2);  // the registered descriptors must not move
  Replacer on_a;
  Replacer on_b;
  for (auto [self, other, other_pair] :
       {std::tuple{&on_a, &on_b, &b}, std::tuple{&on_b, &on_a, &a}}) {
    self->loop = loop.get();
    self->other = other;
    self->other_pair = other_pair;
    self->replacements = &replacements;
  }
  ASSERT_TRUE(loop->add(a.near.get(), EPOLLIN, &on_a));
  ASSERT_TRUE(loop->add(b.near.get(), EPOLLIN, &on_b));
  loop->run();
  // Exactly one of them ran; the other's socket was replaced before its event came up.
  EXPECT_EQ(on_a.calls + on_b.calls, 1);
}

// The same when the replacement gets the very descriptor number the old socket had (the kernel
// hands out the lowest free one): the registration, not the number, decides.
TEST(EventLoop, AnEventFetchedForAReusedDescriptorNumberIsNotDelivered) {
  auto created = EventLoop::create();
  ASSERT_TRUE(created);
  auto loop = std::move(created.value());
  ReadyPair a = ReadyPair::make(true);
  ReadyPair b = ReadyPair::make(true);
  struct Reuser final : EventHandler {
    EventLoop* loop = nullptr;
    ReadyPair* victim = nullptr;
    Reuser* other = nullptr;
    int calls = 0;
    void onEvents(std::uint32_t /*events*/) override {
      ++calls;
      loop->stop();
      if (other->calls > 0) return;
      const int number = victim->near.get();
      loop->remove(number);
      victim->near.reset();
      // A fresh, idle socket under the old number, registered for the other handler.
      ReadyPair fresh = ReadyPair::make(false);
      if (fresh.near.get() == number) {
        (void)fresh.near.release();
      } else {
        ASSERT_GE(::dup2(fresh.near.get(), number), 0);
      }
      victim->near = base::Fd(number);
      victim->far = std::move(fresh.far);
      ASSERT_TRUE(loop->add(number, EPOLLIN, other));
    }
  };
  Reuser on_a;
  Reuser on_b;
  on_a.loop = on_b.loop = loop.get();
  on_a.victim = &b;
  on_b.victim = &a;
  on_a.other = &on_b;
  on_b.other = &on_a;
  ASSERT_TRUE(loop->add(a.near.get(), EPOLLIN, &on_a));
  ASSERT_TRUE(loop->add(b.near.get(), EPOLLIN, &on_b));
  loop->run();
  EXPECT_EQ(on_a.calls + on_b.calls, 1);
}

// A handler that modifies its registration keeps getting its events.
TEST(EventLoop, ModifyKeepsTheRegistration) {
  auto created = EventLoop::create();
  ASSERT_TRUE(created);
  auto loop = std::move(created.value());
  ReadyPair a = ReadyPair::make(true);
  struct Counter final : EventHandler {
    EventLoop* loop = nullptr;
    int calls = 0;
    void onEvents(std::uint32_t /*events*/) override {
      ++calls;
      loop->stop();
    }
  } counter;
  counter.loop = loop.get();
  ASSERT_TRUE(loop->add(a.near.get(), EPOLLOUT, &counter));
  ASSERT_TRUE(loop->modify(a.near.get(), EPOLLIN, &counter));
  loop->run();
  EXPECT_EQ(counter.calls, 1);
}

}  // namespace
}  // namespace l4lb::io
