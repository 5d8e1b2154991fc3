#include "proxy/relay.h"

#include <fcntl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace l4lb::proxy {

namespace {

bool isTransient(int error) { return error == EAGAIN || error == EWOULDBLOCK || error == EINTR; }

}  // namespace

void StreamEnd::noteReadiness(std::uint32_t events) {
  if ((events & EPOLLIN) != 0) readable = true;
  if ((events & EPOLLOUT) != 0) writable = true;
  if ((events & (EPOLLRDHUP | EPOLLHUP)) != 0) peer_closed = readable = true;
}

void Relay::count(bool from_client, std::uint64_t n) {
  if (from_client) {
    listener_->bytes_from_clients.add(n);
    if (backend_counters_ != nullptr) backend_counters_->bytes_to_backend.add(n);
  } else {
    if (first_backend_byte_ms_ < 0 && n > 0) first_backend_byte_ms_ = loop_->now();
    listener_->bytes_from_backends.add(n);
    if (backend_counters_ != nullptr) backend_counters_->bytes_from_backend.add(n);
  }
}

bool Relay::fail(bool client_side, int error) {
  error_ = error;
  stop_ = client_side ? RelayStop::kClientFailed : RelayStop::kBackendFailed;
  // Before the backend answered, its failure may be left for another backend.
  if (!client_side && retaining_) stop_ = RelayStop::kBackendEnded;
  return false;
}

std::span<const std::uint8_t> Relay::answer() const {
  return {reinterpret_cast<const std::uint8_t*>(downstream.buffer.data()), answer_length_};
}

void Relay::passAnswer() {
  // As any bytes read: the same bookkeeping move() does after a recv.
  downstream.length = answer_length_;
  downstream.offset = 0;
  downstream.bytes += answer_length_;
  count(/*from_client=*/false, answer_length_);
  last_activity_ms_ = loop_->now();
  downstream.full_reads = 0;
  answer_length_ = 0;
}

void Relay::stopRetaining() {
  retaining_ = false;
  if (upstream.offset == upstream.length) upstream.offset = upstream.length = 0;
}

void Relay::dropAnswer() { answer_length_ = 0; }

void Relay::rewind() {
  downstream.buffer.reset();
  downstream.offset = downstream.length = 0;
  downstream.bytes = 0;
  first_backend_byte_ms_ = -1;
  downstream.source_eof = downstream.shut_down = false;
  downstream.full_reads = 0;
  answer_length_ = 0;
  upstream.offset = 0;
  upstream.shut_down = false;
}

void Relay::release() {
  upstream.buffer.reset();
  downstream.buffer.reset();
  upstream.pipe.reset(upstream.piped == 0);
  downstream.pipe.reset(downstream.piped == 0);
}

bool Relay::move(Direction& direction, StreamEnd& source, StreamEnd& destination) {
  const bool from_client = &source == &client;
  while (true) {
    // Until the backend answers, what went to it is kept for a replay.
    const bool retaining = retaining_ && from_client;
    Step step = Step::kAgain;
    if (direction.offset < direction.length) {
      step = send(direction, destination, retaining, from_client);
    } else if (direction.splicing) {
      direction.buffer.reset();
      return splice(direction, source, destination);
    } else if (direction.source_eof) {
      endDirection(direction, destination);
      step = Step::kWait;
    } else if (!source.readable) {
      if (!retaining) direction.buffer.reset();  // idle: the buffer goes back to the pool
      step = Step::kWait;
    } else if (retaining && direction.length == BufferPool::kBufferSize) {
      // No room to keep more: from here on the bytes flow as usual, and cannot be replayed.
      retaining_ = false;
      direction.offset = direction.length = 0;
    } else {
      step = receive(direction, source, retaining, from_client);
    }
    if (step == Step::kWait) return true;
    if (step == Step::kStop) return false;
  }
}

Relay::Step Relay::send(Direction& direction, StreamEnd& destination, bool retaining,
                        bool from_client) {
  if (!destination.writable) return Step::kWait;
  std::uint32_t end = direction.length;
  if (retaining && send_limit_ != 0) {
    end = std::min(end, send_limit_);
    if (direction.offset >= end) return Step::kWait;  // the rest waits for the backend's answer
  }
  ssize_t sent = ::send(destination.fd.get(), direction.buffer.data() + direction.offset,
                        end - direction.offset, MSG_NOSIGNAL);
  if (sent < 0) {
    if (errno == EINTR) return Step::kAgain;
    if (isTransient(errno)) {
      destination.writable = false;
      return Step::kWait;  // backpressure: the source is not read until this drains
    }
    (void)fail(/*client_side=*/!from_client, errno);
    return Step::kStop;
  }
  direction.offset += static_cast<std::uint32_t>(sent);
  if (direction.offset == direction.length) {
    if (!retaining) direction.offset = direction.length = 0;
  } else if (direction.offset < end) {
    // A partial send means the socket buffer is full: wait for EPOLLOUT instead of asking again
    // only to hear EAGAIN.
    destination.writable = false;
  }
  return Step::kAgain;
}

Relay::Step Relay::receive(Direction& direction, StreamEnd& source, bool retaining,
                           bool from_client) {
  if (!direction.buffer) direction.buffer = buffers_->acquire();
  const std::uint32_t start = retaining ? direction.length : 0;
  const std::size_t room = BufferPool::kBufferSize - start;
  ssize_t received = ::recv(source.fd.get(), direction.buffer.data() + start, room, 0);
  if (received > 0) {
    // A short read drained the socket: edge-triggered epoll reports the next arrival, so skip
    // the recv that would only say EAGAIN. Not after RDHUP: the EOF must still be read.
    if (static_cast<std::size_t>(received) < room && !source.peer_closed) source.readable = false;
    if (retaining_ && !from_client) {
      // The backend's first bytes: the owner judges them before they go anywhere.
      answer_length_ = static_cast<std::uint32_t>(received);
      stop_ = RelayStop::kBackendAnswered;
      return Step::kStop;
    }
    direction.length = start + static_cast<std::uint32_t>(received);
    direction.offset = start;
    direction.bytes += static_cast<std::uint64_t>(received);
    count(from_client, static_cast<std::uint64_t>(received));
    last_activity_ms_ = loop_->now();
    if (retaining || static_cast<std::size_t>(received) < BufferPool::kBufferSize) {
      direction.full_reads = 0;
    } else if (++direction.full_reads >= kBulkReads && pipes_ != nullptr) {
      direction.splicing = true;  // from the next read on, once this buffer is sent
      stats_->spliced.add();
    }
    return Step::kAgain;
  }
  if (received == 0) {
    if (retaining_ && !from_client) {
      error_ = 0;
      stop_ = RelayStop::kBackendEnded;
      return Step::kStop;
    }
    direction.source_eof = true;
    return Step::kAgain;
  }
  if (errno == EINTR) return Step::kAgain;
  if (errno == EAGAIN || errno == EWOULDBLOCK) {
    source.readable = false;
    return Step::kAgain;
  }
  (void)fail(/*client_side=*/from_client, errno);
  return Step::kStop;
}

bool Relay::splice(Direction& direction, StreamEnd& source, StreamEnd& destination) {
  const bool source_is_client = &source == &client;
  constexpr unsigned kFlags = SPLICE_F_MOVE | SPLICE_F_NONBLOCK;
  while (true) {
    if (direction.piped > 0) {
      if (!destination.writable) return true;
      ssize_t sent = ::splice(direction.pipe.readEnd(), nullptr, destination.fd.get(), nullptr,
                              direction.piped, kFlags);
      if (sent < 0) {
        if (errno == EINTR) continue;
        if (isTransient(errno)) {
          destination.writable = false;
          return true;  // backpressure: the source is not read until the pipe drains
        }
        return fail(/*client_side=*/!source_is_client, errno);
      }
      // A partial splice may leave room (pipe buffers move whole): ask again rather than wait
      // for an EPOLLOUT that may not come.
      direction.piped -= static_cast<std::uint32_t>(sent);
      continue;
    }
    if (direction.source_eof) {
      direction.pipe.reset(true);
      endDirection(direction, destination);
      return true;
    }
    if (!source.readable) {
      direction.pipe.reset(true);  // idle: the pipe goes back to the pool
      return true;
    }
    if (!direction.pipe && pipes_ != nullptr) direction.pipe = pipes_->acquire();
    if (!direction.pipe) {
      // No descriptors for a pipe, or splice is off here and a pipe handed over by a binary
      // upgrade is drained: this direction copies through buffers again.
      direction.splicing = false;
      direction.full_reads = 0;
      return move(direction, source, destination);
    }
    // The pipe is empty here, so EAGAIN can only mean the socket is drained.
    ssize_t received = ::splice(source.fd.get(), nullptr, direction.pipe.writeEnd(), nullptr,
                                PipePool::kPipeBytes, kFlags);
    if (received > 0) {
      direction.piped = static_cast<std::uint32_t>(received);
      direction.bytes += static_cast<std::uint64_t>(received);
      count(source_is_client, static_cast<std::uint64_t>(received));
      last_activity_ms_ = loop_->now();
      continue;
    }
    if (received == 0) {
      direction.source_eof = true;
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
      source.readable = false;
      continue;
    }
    return fail(/*client_side=*/source_is_client, errno);
  }
}

void Relay::endDirection(Direction& direction, StreamEnd& destination) {
  // Retained bytes stay for a replay; a replay repeats this shutdown after them.
  if (!(retaining_ && &direction == &upstream)) direction.buffer.reset();
  if (direction.shut_down) return;
  // When the other direction is already finished, the close that follows sends this FIN
  // (nothing is left unread on either socket, so it is a FIN, not a reset).
  const Direction& other = &direction == &upstream ? downstream : upstream;
  if (!other.shut_down) ::shutdown(destination.fd.get(), SHUT_WR);
  direction.shut_down = true;
}

}  // namespace l4lb::proxy
