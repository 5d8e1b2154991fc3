#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "base/fd.h"
#include "base/log_throttle.h"
#include "config/config.h"
#include "io/event_loop.h"
#include "io/timer_queue.h"
#include "proxy/access_log.h"
#include "proxy/backend_attempts.h"
#include "proxy/buffer_pool.h"
#include "proxy/client_address.h"
#include "proxy/counter.h"
#include "proxy/end_reason.h"
#include "proxy/handoff_state.h"
#include "proxy/pipe_pool.h"
#include "proxy/pool_state.h"
#include "proxy/relay.h"
#include "proxy/replay_window.h"
#include "proxy/session_queue.h"
#include "proxy/session_view.h"

namespace l4lb::proxy {

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

// What a session was started under (its worker's config generation): the owner counts its
// sessions to know when an old generation can go.
struct SessionScope {
  std::size_t sessions = 0;
  virtual ~SessionScope() = default;
};

// The worker, as its sessions see it. A session tells it two things, ended and queued, and
// expects nothing of it then: the owner does what follows (a queued session's retry, an accept
// held back) after the batch of events, never from inside the session's call. The other two are
// questions the preamble asks.
class SessionOwner {
 public:
  // The session has ended: unlink it, and destroy it after the batch (io::Deferred).
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

// One proxied stream connection, as a state machine that owns its parts: the Relay (the two
// sockets and the bytes between them), the BackendAttempts (which backend, and the retries), and
// the ReplayWindow (retry_on past the connect). Every change of state happens here.
//
// States: inspecting (listeners with proxy_protocol = "accept" or routes: the client's PROXY
// header and/or TLS ClientHello are read into the upstream buffer, the header is taken off, the
// pool is chosen; session_preamble.cc) -> connecting (choosing a backend, trying each in turn,
// client reads off) -> proxying (the relay moves bytes both ways) -> closed. When every eligible
// backend is at its max_connections, connecting waits in the pool's queue (queued) for up to
// queue_timeout, at most queue_max sessions of the pool at once. With retry_on "empty-response" /
// "refused-greeting", the session is replayable from the connect until the backend's first
// answer (see ReplayWindow). Both sockets are registered once, edge-triggered, for reading and
// writing; readiness is remembered in flags, so no epoll_ctl is needed as the session changes
// what it waits for.
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
  void handOff(SessionHandoff& out, std::vector<base::Fd>& fds);
  // The new process's side: carries on with a session handed over, connected to backend `backend`
  // of the pool (balance::kNoBackend: the new config no longer has it). `pipes` are the
  // spliced directions' pipe ends, as handOff() put them.
  void resume(const SessionHandoff& state, std::uint32_t backend, base::Fd backend_fd,
              std::vector<base::Fd> pipes);

  // What the admin API shows of it (session_view.cc).
  [[nodiscard]] SessionView view() const;
  // Unique in the process, set by the owner (proxy/session_view.h, sessionId).
  std::uint64_t id = 0;

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

  // The loop's handlers for the two sockets.
  struct ClientEvents final : io::EventHandler {
    Session* session = nullptr;
    void onEvents(std::uint32_t events) override { session->onClientEvents(events); }
  };
  struct BackendEvents final : io::EventHandler {
    Session* session = nullptr;
    void onEvents(std::uint32_t events) override { session->onBackendEvents(events); }
  };

  void onClientEvents(std::uint32_t events);
  void onBackendEvents(std::uint32_t events);

  // The preamble (session_preamble.cc): reads the client until its PROXY header and ClientHello
  // are in, within their timeouts and kPreambleLimit bytes.
  void startPreamble();
  void readPreamble();
  // Looks at what has arrived; false when the session moved on (connecting) or ended.
  bool examinePreamble(bool eof);
  bool takeProxyHeader(bool eof);
  bool routeByClientHello(bool eof);
  void endPreamble(EndReason reason, const char* what, const std::string& detail);

  // Settles the per-pool retry settings and starts choosing a backend of pool_.
  void beginConnecting();
  void connectNext();
  // Waits in the pool's queue (every eligible backend is full), if queue_max leaves room.
  void enterQueue();
  // Gives back the place in the pool's queue count (BackendSlots), once it is not waiting.
  void leaveQueueCount();
  // Takes `index` (already picked, slot held) as the next attempt and starts connecting to it.
  void connectTo(std::uint32_t index);
  // Drops the backend socket of an attempt that is over; reset = RST rather than FIN.
  void closeBackend(bool reset);
  void onConnectFailed(int error);
  void onConnected();

  // Runs the relay and acts on why it stopped, until it waits for the sockets or the session
  // ended or moved on.
  void pump();
  // The relay holds the backend's first bytes (the replay window is open). False: the session
  // retried elsewhere or ended.
  bool onBackendAnswer();
  // The backend ended (error: errno, or 0 for EOF) before its first answer. True: the session
  // moved on to another backend; false leaves the caller to end it.
  bool onEndedBeforeAnswer(int error);
  // Leaves the connected backend for another with the bytes sent so far. False (nothing
  // changed) when no attempt or no other backend is left.
  bool retryElsewhere(int error);
  // Puts the send_proxy header in front of the bytes the preamble left (session_proxy_header.cc).
  void queueProxyHeader();

  void finish(EndReason reason);
  // The session counters' part of ending, shared by finish() and handOff().
  void countEnd(EndReason reason);
  void logAccess(EndReason reason) const;

  SessionEnv env_;
  SessionOwner* owner_;
  const config::ListenerConfig& listener_;
  ListenerCounters& listener_counters_;
  PoolState* pool_;
  Relay relay_;
  BackendAttempts attempts_;
  ReplayWindow window_;
  ClientEvents client_events_;
  BackendEvents backend_events_;
  ClientAddress client_address_;
  std::int64_t started_ms_ = 0;
  std::int64_t queued_until_ = 0;        // queue_timeout deadline, once the session has waited
  std::int64_t connect_started_ns_ = 0;  // the current attempt's, for the connect-time histogram
  std::int64_t first_connect_ms_ = -1;   // the first attempt's start (loop time), for the log
  std::int64_t connected_ms_ = -1;       // when the backend (the last one) was connected
  State state_ = State::kConnecting;
  bool proxy_pending_ = false;            // inspecting: the PROXY header is still to come
  bool hello_pending_ = false;            // inspecting: the ClientHello is still to come
  bool proxy_header_queued_ = false;      // it sits in the retained bytes, for a replay too
  bool preamble_counted_ = false;         // the preamble's bytes went to the first backend's count
  bool in_queue_count_ = false;           // holds a place in the pool's queue_max
  bool taken_over_ = false;               // resumed from another process (binary upgrade)
  std::uint16_t proxy_header_bytes_ = 0;  // the send_proxy header at the start of the retained
  std::unique_ptr<ReceivedProxyHeader> received_proxy_;  // only after a PROXY header
  std::string server_name_;  // the ClientHello's, on routing listeners (for the access log)
};

}  // namespace l4lb::proxy
