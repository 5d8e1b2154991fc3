// The stream session's state machine, driven by a real event loop over loopback TCP sockets, with
// a fake owner in place of the worker: what it relays, when and how it ends, what it tells its
// owner, and how it retries and queues.
#include "proxy/session.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "base/log_throttle.h"
#include "config/loader.h"
#include "io/event_loop.h"
#include "proxy/balancer_plans.h"

namespace l4lb::proxy {
namespace {

using namespace std::chrono_literals;

// A listening TCP socket on 127.0.0.1 (port from the kernel), blocking: the test accepts on it.
struct Listener {
  base::Fd fd;
  std::uint16_t port = 0;

  static Listener open() {
    Listener out;
    out.fd = base::Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(::bind(out.fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    EXPECT_EQ(::listen(out.fd.get(), 64), 0);
    socklen_t len = sizeof(addr);
    EXPECT_EQ(::getsockname(out.fd.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
    out.port = ntohs(addr.sin_port);
    return out;
  }
  // A port nothing listens on: bound, never listened, then closed.
  static std::uint16_t deadPort() {
    Listener probe = open();
    return probe.port;  // closed on return
  }
  [[nodiscard]] base::Fd accept() const { return base::Fd(::accept(fd.get(), nullptr, nullptr)); }
  [[nodiscard]] std::string url() const { return "tcp://127.0.0.1:" + std::to_string(port); }
};

// Both ends of a loopback TCP connection: `client` is the test's, `proxied` goes to the session.
struct ClientPair {
  base::Fd client;
  base::Fd proxied;
  ClientAddress address;
  static ClientPair make() {
    Listener front = Listener::open();
    ClientPair out;
    out.client = base::Fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    addr.sin_port = htons(front.port);
    EXPECT_EQ(::connect(out.client.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    out.address.len = sizeof(out.address.addr);
    out.proxied = base::Fd(::accept4(front.fd.get(), &out.address.addr.sa, &out.address.len,
                                     SOCK_NONBLOCK | SOCK_CLOEXEC));
    return out;
  }
};

std::string readAll(int fd, std::size_t want) {
  std::string out;
  char chunk[4096];
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  while (out.size() < want) {
    ssize_t n = ::recv(fd, chunk, sizeof(chunk), 0);
    if (n <= 0) break;
    out.append(chunk, static_cast<std::size_t>(n));
  }
  return out;
}

// recv's answer after what was expected: 0 for EOF, -errno for an error.
int endOf(int fd) {
  char byte;
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ssize_t n = ::recv(fd, &byte, 1, 0);
  return n < 0 ? -errno : static_cast<int>(n);
}

void sendAll(int fd, std::string_view bytes) {
  ASSERT_EQ(::send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL),
            static_cast<ssize_t>(bytes.size()));
}

// Closes with a reset rather than a FIN.
void resetClose(base::Fd& fd) {
  linger lg{1, 0};
  ::setsockopt(fd.get(), SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  fd.reset();
}

// The worker's part, reduced to what a session may ask of its owner, with a record of it.
class FakeOwner final : public SessionOwner {
 public:
  explicit FakeOwner(const std::string& pool_toml, const std::string& listener_toml = "") {
    const std::string text =
        "[[listener]]\nname = \"front\"\nbind = \"tcp://127.0.0.1:1\"\n"
        "pool = \"back\"\n" +
        listener_toml + "\n[admin]\nlisten = []\n[pool.back]\n" + pool_toml;
    auto loaded = config::loadConfigText(text, "session_test.toml");
    if (!loaded.ok()) {
      for (const auto& error : loaded.errors) ADD_FAILURE() << error.message;
      std::abort();
    }
    config_ = std::move(*loaded.config);
    plans_ = planPools(config_);
    auto created = io::EventLoop::create();
    loop_ = std::move(created.value());
    const auto& pool = config_.pools[0];
    pool_.config = &pool;
    pool_.balancer = plans_[0]->instantiate(1);
    balance::BackendHealth::Options options;
    options.pool = pool.name;
    options.eject_after = pool.eject_after;
    options.eject_for_ms = pool.eject_for.count();
    std::vector<std::string> names;
    for (const auto& backend : pool.backends) names.push_back(backend.name);
    pool_.health = std::make_unique<balance::BackendHealth>(std::move(options), *pool_.balancer,
                                                            std::move(names), loop_->now());
    if (BackendSlots::wanted(pool)) {
      slots_ = std::make_unique<BackendSlots>(pool);
      pool_.slots = slots_.get();
    }
    env_ = SessionEnv{.loop = loop_.get(),
                      .buffers = &buffers_,
                      .pipes = nullptr,
                      .stats = &stats_,
                      .access_log = &access_log_,
                      .failure_log = &failure_log_};
  }
  ~FakeOwner() {
    for (Session* session : live_) delete session;
  }

  // A session for the proxied end of `pair`, started.
  Session* start(ClientPair& pair) {
    auto* session = new Session(env_, this, config_.listeners[0], counters_, pool_,
                                std::move(pair.proxied), pair.address);
    live_.push_back(session);
    session->start();
    return session;
  }

  // A session taken over from another process (binary upgrade): `client` and `backend` are its
  // sockets, connected to backend 0.
  Session* resume(ClientPair& pair, base::Fd backend) {
    auto* session = new Session(env_, this, config_.listeners[0], counters_, pool_,
                                std::move(pair.proxied), pair.address);
    live_.push_back(session);
    SessionHandoff state;
    state.listener = "front";
    state.pool = "back";
    session->resume(state, 0, std::move(backend), {});
    return session;
  }

  // Runs the loop until `done` holds (checked every 2 ms), at most 5 s.
  bool runUntil(const std::function<bool()>& done) {
    struct Check final : io::Timer {
      io::EventLoop* loop = nullptr;
      const std::function<bool()>* done = nullptr;
      std::int64_t until = 0;
      bool met = false;
      void onTimer() override {
        met = (*done)();
        if (met || loop->now() >= until) {
          loop->stop();
          return;
        }
        loop->timers().schedule(this, loop->now() + 2);
      }
    } check;
    check.loop = loop_.get();
    check.done = &done;
    check.until = loop_->now() + 5000;
    if (done()) return true;
    loop_->timers().schedule(&check, loop_->now() + 2);
    loop_->run();
    loop_->timers().cancel(&check);
    return check.met;
  }
  // Until `fd` holds `bytes` unread bytes.
  bool runUntilReadable(int fd, int bytes) {
    return runUntil([&] {
      int available = 0;
      return ::ioctl(fd, FIONREAD, &available) == 0 && available >= bytes;
    });
  }
  // Until `fd`'s peer has closed or reset.
  bool runUntilHungUp(int fd) {
    return runUntil([&] {
      pollfd p{.fd = fd, .events = POLLRDHUP, .revents = 0};
      return ::poll(&p, 1, 0) == 1 && (p.revents & (POLLRDHUP | POLLHUP | POLLERR)) != 0;
    });
  }
  void runBriefly() {
    std::int64_t until = loop_->now() + 30;
    (void)runUntil([&] { return loop_->now() >= until; });
  }

  void onSessionEnded(Session* session) override {
    ended_.push_back(session);
    std::erase(live_, session);
    loop_->deferDelete(std::unique_ptr<io::Deferred>(session));
  }
  void onSessionQueued() override { ++queued_; }
  PoolState& poolAt(std::uint32_t /*index*/) override { return pool_; }
  bool admitClient(Session& /*session*/) override { return true; }

  [[nodiscard]] std::size_t endedCount() const { return ended_.size(); }
  [[nodiscard]] std::uint64_t endedBy(EndReason reason) { return counters_.endedBy(reason).get(); }
  [[nodiscard]] int queuedCalls() const { return queued_; }
  [[nodiscard]] WorkerStats& stats() { return stats_; }
  [[nodiscard]] PoolState& pool() { return pool_; }
  [[nodiscard]] io::EventLoop& loop() { return *loop_; }

 private:
  config::Config config_;
  std::vector<std::shared_ptr<const balance::BalancerPlan>> plans_;  // one per config_.pools[i]
  std::unique_ptr<io::EventLoop> loop_;
  BufferPool buffers_;
  WorkerStats stats_;
  AccessLog access_log_;
  base::LogThrottle failure_log_;
  ListenerCounters counters_;
  std::unique_ptr<BackendSlots> slots_;
  PoolState pool_;
  SessionEnv env_;
  std::vector<Session*> live_;
  std::vector<Session*> ended_;
  int queued_ = 0;
};

std::string backends(const std::vector<std::string>& urls, const std::string& extra = "") {
  std::string out = "backends = [";
  for (const auto& url : urls) out += "{ address = \"" + url + "\"" + extra + " }, ";
  return out + "]\n";
}

// A session of a one-backend pool, connected: the test's client end and the backend's end.
struct Connected {
  Listener backend = Listener::open();
  FakeOwner owner{backends({backend.url()})};
  ClientPair pair = ClientPair::make();
  base::Fd server;
  Connected() {
    owner.start(pair);
    owner.runBriefly();
    server = backend.accept();
  }
};

TEST(Session, RelaysBothWaysAndPassesEachHalfCloseOn) {
  Connected c;
  ASSERT_TRUE(c.server);
  FakeOwner& owner = c.owner;
  ClientPair& pair = c.pair;
  base::Fd& server = c.server;

  sendAll(pair.client.get(), "hello");
  ::shutdown(pair.client.get(), SHUT_WR);
  ASSERT_TRUE(owner.runUntilHungUp(server.get()));
  EXPECT_EQ(readAll(server.get(), 5), "hello");
  EXPECT_EQ(endOf(server.get()), 0);  // the client's FIN, passed on
  EXPECT_EQ(owner.endedCount(), 0U);  // the other direction is still open

  sendAll(server.get(), "world");
  ::shutdown(server.get(), SHUT_WR);
  ASSERT_TRUE(owner.runUntil([&] { return owner.endedCount() == 1; }));
  EXPECT_EQ(readAll(pair.client.get(), 5), "world");
  EXPECT_EQ(endOf(pair.client.get()), 0);
  EXPECT_EQ(owner.endedBy(EndReason::kCompleted), 1U);
}

TEST(Session, ABackendResetIsPassedToTheClientAsAReset) {
  Connected c;
  ASSERT_TRUE(c.server);
  FakeOwner& owner = c.owner;
  ClientPair& pair = c.pair;
  base::Fd& server = c.server;
  sendAll(pair.client.get(), "ping");
  ASSERT_TRUE(owner.runUntilReadable(server.get(), 4));
  EXPECT_EQ(readAll(server.get(), 4), "ping");
  resetClose(server);
  ASSERT_TRUE(owner.runUntil([&] { return owner.endedCount() == 1; }));
  EXPECT_EQ(owner.endedBy(EndReason::kBackendReset), 1U);
  EXPECT_EQ(endOf(pair.client.get()), -ECONNRESET);
}

TEST(Session, AClientResetResetsTheBackend) {
  Connected c;
  ASSERT_TRUE(c.server);
  FakeOwner& owner = c.owner;
  ClientPair& pair = c.pair;
  base::Fd& server = c.server;
  resetClose(pair.client);
  ASSERT_TRUE(owner.runUntil([&] { return owner.endedCount() == 1; }));
  EXPECT_EQ(owner.endedBy(EndReason::kClientReset), 1U);
  EXPECT_EQ(endOf(server.get()), -ECONNRESET);
}

TEST(Session, IdleTimeoutEndsTheSessionWithResets) {
  Listener backend = Listener::open();
  FakeOwner owner(backends({backend.url()}), "idle_timeout = \"50ms\"\n");
  ClientPair pair = ClientPair::make();
  owner.start(pair);
  ASSERT_TRUE(owner.runUntil([&] { return owner.endedCount() == 1; }));
  EXPECT_EQ(owner.endedBy(EndReason::kIdleTimeout), 1U);
  EXPECT_EQ(endOf(pair.client.get()), -ECONNRESET);
}

TEST(Session, AFailedConnectIsRetriedOnTheNextBackend) {
  Listener alive = Listener::open();
  const std::string dead = "tcp://127.0.0.1:" + std::to_string(Listener::deadPort());
  FakeOwner owner(backends({dead, alive.url()}) + "balance = \"first\"\n");
  ClientPair pair = ClientPair::make();
  owner.start(pair);
  ASSERT_TRUE(owner.runUntil([&] { return owner.stats().connect_failures.get() == 1; }));
  base::Fd server = alive.accept();
  ASSERT_TRUE(server);
  sendAll(server.get(), "from the second\n");
  ASSERT_TRUE(owner.runUntilReadable(pair.client.get(), 16));
  EXPECT_EQ(readAll(pair.client.get(), 16), "from the second\n");
  EXPECT_EQ(owner.endedCount(), 0U);
}

TEST(Session, WithEveryBackendFailingTheClientIsResetAndCountedAsConnectFailed) {
  const std::string dead = "tcp://127.0.0.1:" + std::to_string(Listener::deadPort());
  FakeOwner owner(backends({dead}) + "retries = 0\n");
  ClientPair pair = ClientPair::make();
  owner.start(pair);
  ASSERT_TRUE(owner.runUntil([&] { return owner.endedCount() == 1; }));
  EXPECT_EQ(owner.endedBy(EndReason::kConnectFailed), 1U);
  EXPECT_EQ(endOf(pair.client.get()), -ECONNRESET);
}

// retry_on = "empty-response": a backend that ends before its first answer is left for another,
// which gets the same bytes the client sent.
TEST(Session, ABackendThatEndsBeforeAnsweringIsReplacedWithTheSameBytes) {
  Listener first = Listener::open();
  Listener second = Listener::open();
  FakeOwner owner(backends({first.url(), second.url()}) +
                  "balance = \"first\"\nretry_on = [\"conn-failure\", \"empty-response\"]\n");
  ClientPair pair = ClientPair::make();
  owner.start(pair);
  sendAll(pair.client.get(), "request");
  owner.runBriefly();
  base::Fd quitter = first.accept();
  ASSERT_TRUE(quitter);
  ASSERT_TRUE(owner.runUntilReadable(quitter.get(), 7));
  EXPECT_EQ(readAll(quitter.get(), 7), "request");
  quitter.reset();  // ends without a byte of answer
  ASSERT_TRUE(owner.runUntil([&] { return owner.stats().retried.get() == 1; }));
  base::Fd server = second.accept();
  ASSERT_TRUE(server);
  ASSERT_TRUE(owner.runUntilReadable(server.get(), 7));
  EXPECT_EQ(readAll(server.get(), 7), "request");
  sendAll(server.get(), "answer");
  ASSERT_TRUE(owner.runUntilReadable(pair.client.get(), 6));
  EXPECT_EQ(readAll(pair.client.get(), 6), "answer");
  EXPECT_EQ(owner.endedCount(), 0U);
}

TEST(Session, WaitsInTheQueueWhileTheBackendIsFullAndTakesTheFreedSlot) {
  Listener backend = Listener::open();
  FakeOwner owner(backends({backend.url()}, ", max_connections = 1"));
  ClientPair first_pair = ClientPair::make();
  ClientPair second_pair = ClientPair::make();
  Session* first = owner.start(first_pair);
  Session* second = owner.start(second_pair);
  EXPECT_EQ(owner.queuedCalls(), 1);
  EXPECT_EQ(owner.pool().queue.size(), 1U);
  EXPECT_EQ(owner.pool().queue.front(), second);
  EXPECT_EQ(owner.stats().queued.get(), 1U);
  first->abort(EndReason::kShutdown);
  // What the worker does after the batch: the queued session retries.
  owner.pool().queue.front()->retryFromQueue();
  EXPECT_TRUE(owner.pool().queue.empty());
  owner.runBriefly();
  base::Fd a = backend.accept();
  base::Fd b = backend.accept();
  ASSERT_TRUE(a && b);
  EXPECT_EQ(owner.endedBy(EndReason::kShutdown), 1U);
}

TEST(Session, BeyondQueueMaxTheConnectionIsClosedAndCounted) {
  Listener backend = Listener::open();
  FakeOwner owner(backends({backend.url()}, ", max_connections = 1") + "queue_max = 1\n");
  ClientPair pairs[3] = {ClientPair::make(), ClientPair::make(), ClientPair::make()};
  owner.start(pairs[0]);
  owner.start(pairs[1]);  // waits
  owner.start(pairs[2]);  // no room to wait
  EXPECT_EQ(owner.pool().queue.size(), 1U);
  EXPECT_EQ(owner.endedBy(EndReason::kQueueFull), 1U);
  EXPECT_EQ(owner.pool().slots->queued(), 1U);
  owner.runBriefly();
  EXPECT_EQ(endOf(pairs[2].client.get()), -ECONNRESET);
}

TEST(Session, QueueTimeoutEndsTheWait) {
  Listener backend = Listener::open();
  FakeOwner owner(backends({backend.url()}, ", max_connections = 1") +
                  "queue_timeout = \"30ms\"\n");
  ClientPair pairs[2] = {ClientPair::make(), ClientPair::make()};
  owner.start(pairs[0]);
  owner.start(pairs[1]);
  ASSERT_TRUE(owner.runUntil([&] { return owner.endedCount() == 1; }));
  EXPECT_EQ(owner.endedBy(EndReason::kQueueTimeout), 1U);
  EXPECT_TRUE(owner.pool().queue.empty());
  EXPECT_EQ(owner.pool().slots->queued(), 0U);
}

// A session taken over in a binary upgrade shares its sockets with the old process until that one
// closes its copies. Closing ours then does not take them out of our epoll: the session must
// do so itself, or the next event on them reaches a session already destroyed.
TEST(Session, ATakenOverSessionThatEndsHearsNothingMoreOfItsSockets) {
  Listener backend = Listener::open();
  FakeOwner owner(backends({backend.url()}));
  ClientPair pair = ClientPair::make();
  base::Fd old_client(::dup(pair.proxied.get()));  // the old process's copies
  base::Fd to_backend(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(backend.port);
  (void)::connect(to_backend.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr));
  base::Fd server = backend.accept();
  ASSERT_TRUE(server);
  base::Fd old_backend(::dup(to_backend.get()));
  Session* session = owner.resume(pair, std::move(to_backend));
  owner.runBriefly();
  session->abort(EndReason::kShutdown);
  owner.runBriefly();  // destroyed after that batch
  ASSERT_EQ(owner.endedCount(), 1U);
  // Both peers speak; the sockets are still open (the old process's copies).
  sendAll(pair.client.get(), "late");
  sendAll(server.get(), "late");
  owner.runBriefly();  // with the registrations left behind: a call into freed memory
  EXPECT_EQ(owner.endedBy(EndReason::kShutdown), 1U);
}

}  // namespace
}  // namespace l4lb::proxy
