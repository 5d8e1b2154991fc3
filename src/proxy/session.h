#pragma once

#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>

#include <array>
#include <cstdint>
#include <memory>
#include <string>

#include "balance/backend_health.h"
#include "balance/balancer.h"
#include "base/fd.h"
#include "base/log_throttle.h"
#include "config/config.h"
#include "io/event_loop.h"
#include "io/timer_queue.h"
#include "proto/first_reply.h"
#include "proxy/access_log.h"
#include "proxy/backend_slots.h"
#include "proxy/buffer_pool.h"
#include "proxy/counter.h"
#include "proxy/end_reason.h"
#include "proxy/pipe_pool.h"
#include "proxy/session_queue.h"
#include "upgrade/handoff_message.h"

namespace l4lb::proxy {

// What both ends of a session wait for, registered once (edge-triggered, so never re-armed).
inline constexpr std::uint32_t kStreamEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

class Session;

// What a session needs from the worker that owns it. All of it lives on the worker's thread.
struct SessionEnv {
  io::EventLoop* loop = nullptr;
  BufferPool* buffers = nullptr;
  PipePool* pipes = nullptr;  // null: splice off, every byte is copied through a buffer
  WorkerStats* stats = nullptr;
  const AccessLog* access_log = nullptr;
  base::LogThrottle* failure_log = nullptr;  // for "no backend could be connected"
};

// The worker side of a pool: its config, this worker's balancer for it, and what this worker
// knows of its backends' health (which feeds the balancer).
struct PoolState {
  const config::PoolConfig* config = nullptr;
  std::unique_ptr<balance::Balancer> balancer;
  std::unique_ptr<balance::BackendHealth> health;
  BackendSlots* slots = nullptr;       // shared by all workers; null when no backend has a limit
  SessionQueue queue;                  // this worker's connections waiting for a slot
  std::vector<std::uint32_t> exclude;  // scratch for picks that skip full backends
  // A session of this pool ended while others wait: the owner lets them retry after the batch.
  bool wake_queue = false;
};

// What a session was started under (its worker's config generation): the owner counts its
// sessions to know when an old generation can go.
struct SessionScope {
  std::size_t sessions = 0;
  virtual ~SessionScope() = default;
};

// Told when a session has ended, so it can unlink and (deferred) destroy it.
class SessionOwner {
 public:
  virtual void onSessionEnded(Session* session) = 0;
  // A session started waiting in its pool's queue: the owner must look for room now and then.
  virtual void onSessionQueued() = 0;
  // The worker's state for the pool at `index` of the config (a route chose it).
  virtual PoolState& poolAt(std::uint32_t index) = 0;
  // Allow/deny and per-source limits for a client a PROXY header named. False: refused (and
  // counted); the session ends.
  virtual bool admitClient(Session& session) = 0;

 protected:
  ~SessionOwner() = default;
};

// Compact storage for a client's address: IPv4, IPv6, or an (often unnamed) Unix peer.
struct ClientAddress {
  union {
    sockaddr sa;
    sockaddr_in v4;
    sockaddr_in6 v6;
  } addr{};
  socklen_t len = 0;
};

// Received v2 TLVs passed on by send_proxy = "v2", at most; a larger set is not passed on.
inline constexpr std::size_t kMaxPassedTlvBytes = 1024;
// The most the preamble reads: the rest of the buffer stays free for the PROXY header that
// send_proxy puts before those bytes (16 + 216 address bytes + TLVs).
inline constexpr std::size_t kPreambleLimit =
    BufferPool::kBufferSize - 16 - 216 - kMaxPassedTlvBytes;

// What a PROXY header said beyond the client's address, kept for send_proxy towards the backend.
struct ReceivedProxyHeader {
  sockaddr_storage destination{};
  socklen_t destination_len = 0;
  std::string tlvs;  // v2 TLVs, passed on by send_proxy = "v2"
};

// One proxied stream connection: the client socket, the backend socket, and the bytes between.
//
// States: inspecting (listeners with proxy_protocol = "accept" or routes: the client's PROXY
// header and/or TLS ClientHello are read into the upstream buffer, the header is taken off, the
// pool is chosen; the rest is forwarded unchanged) -> connecting (choosing a backend, trying each
// in turn, client reads off) -> proxying (both directions relayed, each ending with EOF passed on
// as shutdown(SHUT_WR)) -> closed. When every eligible backend is at its max_connections,
// connecting waits in the pool's queue (queued) for up to queue_timeout. With retry_on
// "empty-response" / "refused-greeting", the session is replayable from the connect until the
// backend's first answer: what was sent to the backend stays in the upstream buffer, and a backend
// that ends before answering (or refuses) is left for another one, which gets the same bytes. Once
// the retained bytes fill the buffer, the window closes. Both sockets are registered once,
// edge-triggered, for reading and writing; readiness is remembered in flags, so no epoll_ctl is
// needed as the session changes what it waits for.
class Session final : public io::Timer, public io::Deferred {
 public:
  Session(const SessionEnv& env, SessionOwner* owner, const config::ListenerConfig& listener,
          ListenerCounters& listener_counters, PoolState& pool, base::Fd client,
          const ClientAddress& client_address);
  ~Session() override;

  // Chooses a backend and starts connecting; may end the session at once (no backend).
  void start();

  // Ends the session now (shutdown grace ran out), resetting both sides.
  void abort(EndReason reason);

  // Queued: a backend slot may have come free. Tries again; may queue once more.
  void retryFromQueue();
  // The pool this session draws its backend from.
  [[nodiscard]] PoolState& pool() const { return *pool_; }
  // This worker's queue of the pool links sessions through here.
  QueueLinks queue_links;

  void onTimer() override;

  // Binary upgrade (session_handoff.cc). A session can move to the new process while it is
  // proxying with no retry window open: its state is then two sockets, the bytes in its buffers
  // and pipes, and counters.
  [[nodiscard]] bool movable() const;
  // Puts the session's state into `out` and its descriptors into `fds` (client, backend, then
  // each spliced direction's pipe ends), and ends it here without a word to either peer: the
  // sockets live on in the new process.
  void handOff(upgrade::SessionHandoff& out, std::vector<base::Fd>& fds);
  // The new process's side: carries on with a session handed over, connected to backend `backend`
  // of the pool (balance::kNoBackend: the new config no longer has it). `pipes` are the
  // spliced directions' pipe ends, as handOff() put them.
  void resume(const upgrade::SessionHandoff& state, std::uint32_t backend, base::Fd backend_fd,
              std::vector<base::Fd> pipes);

  [[nodiscard]] const config::ListenerConfig& listener() const { return listener_; }
  [[nodiscard]] const ClientAddress& clientAddress() const { return client_address_; }
  [[nodiscard]] ListenerCounters& listenerCounters() const { return listener_counters_; }

  // Intrusive list links, owned by the worker's SessionList.
  Session* prev = nullptr;
  Session* next = nullptr;
  // Counted by its listener's per-source limiter (released when the session ends).
  bool source_admitted = false;
  // The owner's generation this session belongs to (set by the owner).
  SessionScope* scope = nullptr;

 private:
  enum class State : std::uint8_t { kInspecting, kConnecting, kQueued, kProxying, kClosed };

  struct Side final : io::EventHandler {
    Session* session = nullptr;
    base::Fd fd;
    bool readable = false;
    bool writable = false;
    bool peer_closed = false;  // EPOLLRDHUP seen: keep reading until EOF
    // Remembers what epoll reported; edge-triggered events are not repeated.
    void noteReadiness(std::uint32_t events);
    void onEvents(std::uint32_t events) override;
  };

  // Bytes on their way from one side to the other, with what has been seen of the source's end.
  // A direction starts by copying through a pooled buffer; once it proves to be a bulk transfer
  // (kBulkReads reads in a row filled the buffer) it moves its bytes with splice(2) through a
  // pooled pipe instead, and stays so.
  struct Direction {
    PooledBuffer buffer;
    std::uint32_t offset = 0;
    std::uint32_t length = 0;
    PooledPipe pipe;
    std::uint32_t piped = 0;      // bytes in the pipe
    std::uint8_t full_reads = 0;  // consecutive reads that filled the buffer
    bool splicing = false;
    bool source_eof = false;
    bool shut_down = false;  // shutdown(SHUT_WR) sent to the destination
    std::uint64_t bytes = 0;
  };
  static constexpr std::uint8_t kBulkReads = 4;

  void onClientEvents(std::uint32_t events);
  // The preamble (session_preamble.cc): reads the client until its PROXY header and ClientHello
  // are in, within their timeouts and kPreambleLimit bytes.
  void startPreamble();
  void readPreamble();
  // Looks at what has arrived; false when the session moved on (connecting) or ended.
  bool examinePreamble(bool eof);
  bool takeProxyHeader(bool eof);
  bool routeByClientHello(bool eof);
  void endPreamble(EndReason reason, const char* what, const std::string& detail);
  void onBackendEvents(std::uint32_t events);
  // Settles the per-pool retry settings and starts choosing a backend of pool_.
  void beginConnecting();
  void connectNext();
  // Gives back the place in the pool's queue count (BackendSlots), once it is not waiting.
  void leaveQueueCount();
  // Picks an eligible backend that has a free slot; kNoBackend, with `saw_full` set when some
  // were skipped only for being full.
  [[nodiscard]] std::uint32_t pickBackend(bool& saw_full);
  // Gives back what choosing backend_index_ took (balancer count, slot).
  void releaseBackend();
  [[nodiscard]] std::uint32_t maxAttempts() const;
  // Takes `index` (already picked, slot held) as the next attempt and starts connecting to it.
  void connectTo(std::uint32_t index);
  void onConnectFailed(int error);
  void onConnected();
  // The backend ended (error: errno, or 0 for EOF) before its first answer. Returns true when
  // the session moved on to another backend; false leaves the caller to end it.
  bool onEndedBeforeAnswer(int error);
  // The first bytes the backend sent, still in downstream_.buffer[0, length). Returns false
  // when they must not be passed on: the session retried elsewhere, or ended.
  bool onFirstAnswer(std::uint32_t length, bool& forward);
  // Leaves the connected backend for another with the bytes sent so far. False (nothing
  // changed) when no attempt or no other backend is left.
  bool retryElsewhere(int error);
  void queueProxyHeader();
  // Counts `n` bytes just read for the other side, for the listener and the backend.
  void countRelayed(bool from_client, std::uint64_t n);
  void pump();
  // Relays as much as the two sockets allow. Returns false when the session ended.
  bool relay(Direction& direction, Side& source, Side& destination);
  // relay() for a direction that moves its bytes with splice(2).
  bool splice(Direction& direction, Side& source, Side& destination);
  // The source's EOF, passed on once everything before it was sent.
  void endDirection(Direction& direction, Side& destination);
  void finish(EndReason reason);
  // The session counters' part of ending, shared by finish() and handOff().
  void countEnd(EndReason reason);
  void logAccess(EndReason reason) const;
  void logAllConnectsFailed(const char* local_error) const;

  SessionEnv env_;
  SessionOwner* owner_;
  const config::ListenerConfig& listener_;
  ListenerCounters& listener_counters_;
  PoolState* pool_;
  // The connected backend's counters (bytes); null until the first connect.
  balance::BackendCounters* backend_counters_ = nullptr;
  Side client_;
  Side backend_;
  Direction upstream_;    // client -> backend
  Direction downstream_;  // backend -> client
  ClientAddress client_address_;
  std::int64_t started_ms_ = 0;
  std::int64_t last_activity_ms_ = 0;
  std::int64_t queued_until_ = 0;        // queue_timeout deadline, once the session has waited
  std::int64_t connect_started_ns_ = 0;  // the current attempt's, for the connect-time histogram
  std::uint32_t backend_index_ = balance::kNoBackend;
  std::uint8_t attempts_ = 0;
  State state_ = State::kConnecting;
  bool proxy_pending_ = false;        // inspecting: the PROXY header is still to come
  bool hello_pending_ = false;        // inspecting: the ClientHello is still to come
  bool replayable_ = false;           // see the class comment
  bool in_queue_count_ = false;       // holds a place in the pool's queue_max
  bool proxy_header_queued_ = false;  // it sits in the retained bytes, for a replay too
  bool preamble_counted_ = false;     // the preamble's bytes went to the first backend's count
  proto::GreetingProtocol greeting_ = proto::GreetingProtocol::kNone;
  // pgsql: SSLRequest answers ('N') the client has seen, and those a replacement backend will
  // send again and the client must not see twice.
  std::uint8_t negotiations_seen_ = 0;
  std::uint8_t negotiations_to_skip_ = 0;
  // A replay paces the negotiations as the client did: each 8-byte request goes alone, and what
  // follows waits for its answer (PostgreSQL refuses bytes sent ahead of its 'N').
  bool resend_after_answer_ = false;
  std::uint16_t proxy_header_bytes_ = 0;  // the send_proxy header at the start of the retained
  // How far a replay may send before the next negotiation answer; 0: no limit.
  [[nodiscard]] std::uint32_t replayLimit() const;
  std::unique_ptr<ReceivedProxyHeader> received_proxy_;  // only after a PROXY header

  // Backends tried and why each failed, for exclusion and for the log when all fail.
  static constexpr std::size_t kMaxRecordedFailures = 16;  // caps attempts per connection
  std::array<std::uint32_t, kMaxRecordedFailures> failed_backends_{};
  std::array<std::uint8_t, kMaxRecordedFailures> failed_errors_{};  // errno values
};

}  // namespace l4lb::proxy
