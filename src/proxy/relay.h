#pragma once

#include <sys/epoll.h>

#include <cstdint>
#include <span>

#include "balance/backend_counters.h"
#include "base/fd.h"
#include "io/event_loop.h"
#include "proxy/buffer_pool.h"
#include "proxy/counter.h"
#include "proxy/pipe_pool.h"

namespace l4lb::proxy {

// What both ends of a session wait for, registered once (edge-triggered, so never re-armed).
inline constexpr std::uint32_t kStreamEvents = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;

// One socket of a relayed connection and what epoll last said of it: edge-triggered events are
// not repeated, so readiness is remembered until a call answers EAGAIN.
struct StreamEnd {
  base::Fd fd;
  bool readable = false;
  bool writable = false;
  bool peer_closed = false;  // EPOLLRDHUP seen: keep reading until EOF

  void noteReadiness(std::uint32_t events);
  void forgetReadiness() { readable = writable = peer_closed = false; }
};

// Bytes on their way from one end to the other, with what has been seen of the source's end.
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

// Why Relay::pump() returned.
enum class RelayStop : std::uint8_t {
  kWaiting,        // nothing more moves until a socket is ready again
  kCompleted,      // both directions ended, each EOF passed on
  kClientFailed,   // a read from or a write to the client failed (error())
  kBackendFailed,  // the same on the backend
  // Only while retaining (see Relay):
  kBackendAnswered,  // the backend's first bytes are in, held back: passAnswer() or dropAnswer()
  kBackendEnded,     // the backend ended (error(), 0 for EOF) before answering
};

// Moves the bytes of one stream connection between the client and the backend, both directions:
// copied through pooled buffers, or spliced through pooled pipes once a direction proves bulk;
// each source's EOF passed on as shutdown(SHUT_WR) once what came before it is sent; a source not
// read while its destination is full (backpressure). It knows no protocol, and never ends or
// retries anything itself: it says why it stopped, and its owner (the session) decides.
//
// Retention, the replay window's part: while on, what is sent to the backend stays in the
// upstream buffer (a replay to another backend sends it again), sends stop at the send limit,
// and the backend's bytes are held back at kBackendAnswered for the owner to judge. Retention
// turns itself off when the buffer is full: from there the bytes flow as usual.
class Relay {
 public:
  Relay(BufferPool& buffers, PipePool* pipes, WorkerStats& stats, const io::EventLoop& loop,
        ListenerCounters& listener)
      : buffers_(&buffers), pipes_(pipes), stats_(&stats), loop_(&loop), listener_(&listener) {}

  StreamEnd client;
  StreamEnd backend;
  Direction upstream;    // client -> backend
  Direction downstream;  // backend -> client

  // Moves what the two sockets allow now, and says why it stopped. Inline: the session calls it
  // on every event of a proxied connection.
  [[nodiscard]] RelayStop pump() {
    stop_ = RelayStop::kWaiting;
    if (!move(upstream, client, backend)) return stop_;
    if (!move(downstream, backend, client)) return stop_;
    if (upstream.shut_down && downstream.shut_down) return RelayStop::kCompleted;
    return RelayStop::kWaiting;
  }
  // The errno behind the last kClientFailed, kBackendFailed or kBackendEnded (0: EOF).
  [[nodiscard]] int error() const { return error_; }

  // The connected backend's byte counters (null before the first connect).
  void setBackendCounters(balance::BackendCounters* counters) { backend_counters_ = counters; }
  // Counts `n` bytes just read, for the listener and the backend (also used for the preamble).
  void count(bool from_client, std::uint64_t n);
  [[nodiscard]] std::int64_t lastActivity() const { return last_activity_ms_; }
  // When the current backend's first byte was read (loop time, ms), or -1: none yet.
  [[nodiscard]] std::int64_t firstBackendByte() const { return first_backend_byte_ms_; }
  void touch() { last_activity_ms_ = loop_->now(); }

  void setRetaining(bool on) { retaining_ = on; }
  // The backend answered: the window is over, and retained bytes all sent need not stay.
  void stopRetaining();
  [[nodiscard]] bool retaining() const { return retaining_; }
  // The most of the retained bytes that may be sent now (0: all).
  void setSendLimit(std::uint32_t limit) { send_limit_ = limit; }
  // After kBackendAnswered: the held-back bytes.
  [[nodiscard]] std::span<const std::uint8_t> answer() const;
  void passAnswer();  // on to the client, as any bytes
  void dropAnswer();  // the client never sees them
  // After kBackendEnded with nowhere else to go: that EOF ends the direction as usual.
  void acceptBackendEof() { downstream.source_eof = true; }
  // For a replay to a new backend socket: the old backend's bytes are forgotten and what was
  // retained goes again from its start, the client's EOF after it if it came.
  void rewind();

  // Buffers and pipes go back to their pools; the pipes closed if not empty.
  void release();

 private:
  // One direction: false when the relay must stop (stop_ says why).
  bool move(Direction& direction, StreamEnd& source, StreamEnd& destination);
  // What one step of move() leaves it to do: go on, wait for the sockets, or stop.
  enum class Step : std::uint8_t { kAgain, kWait, kStop };
  // send() and receive() are move()'s steps, forced inline into it: called out of line, they
  // added ~14% to the instructions the worker spends on a keep-alive HTTP request.
  // Sends what the buffer holds (up to the send limit while retaining).
  [[gnu::always_inline]] inline Step send(Direction& direction, StreamEnd& destination,
                                          bool retaining, bool from_client);
  // Reads the source into the buffer (after the retained bytes while retaining).
  [[gnu::always_inline]] inline Step receive(Direction& direction, StreamEnd& source,
                                             bool retaining, bool from_client);
  bool splice(Direction& direction, StreamEnd& source, StreamEnd& destination);
  // The source's EOF, passed on once everything before it was sent.
  void endDirection(Direction& direction, StreamEnd& destination);
  bool fail(bool client_side, int error);

  static constexpr std::uint8_t kBulkReads = 4;

  BufferPool* buffers_;
  PipePool* pipes_;  // null: splice off, every byte is copied through a buffer
  WorkerStats* stats_;
  const io::EventLoop* loop_;
  ListenerCounters* listener_;
  balance::BackendCounters* backend_counters_ = nullptr;
  std::int64_t last_activity_ms_ = 0;
  std::int64_t first_backend_byte_ms_ = -1;
  std::uint32_t send_limit_ = 0;
  std::uint32_t answer_length_ = 0;
  int error_ = 0;
  RelayStop stop_ = RelayStop::kWaiting;
  bool retaining_ = false;
};

}  // namespace l4lb::proxy
