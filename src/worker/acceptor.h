#pragma once

#include <cstdint>

#include "base/fd.h"
#include "io/event_loop.h"
#include "io/timer_queue.h"

namespace l4lb::worker {

class Worker;

// Accepts connections on one listening socket for one worker. The socket is either the
// worker's own (TCP, SO_REUSEPORT) or shared by all workers (Unix; EPOLLEXCLUSIVE wakes one).
//
// Accept errors follow a written policy: EAGAIN means done; EINTR and ECONNABORTED retry;
// EMFILE, ENFILE, ENOBUFS and ENOMEM pause this listener with a growing backoff (the pending
// connections wait in the kernel backlog instead of the loop spinning), logged at most once a
// second and counted.
//
// At a connection limit (ConnectionLimits) it stops watching its socket, so connections wait in
// the kernel's backlog, and looks again when one of this worker's sessions ends, or after a
// short delay for room made by other workers.
class Acceptor final : public io::EventHandler, public io::Timer {
 public:
  Acceptor(Worker& worker, std::uint32_t listener_index, base::Fd owned, int shared_fd);

  [[nodiscard]] base::Result<void> arm();
  // Stops accepting: the worker's own socket is closed, a shared one is only unwatched.
  void close();

  // Binary upgrade: stops watching the socket, which stays open (false), or watches it again.
  void setSuspended(bool suspended);
  // The worker's own socket, or -1 for a shared one.
  [[nodiscard]] int ownedFd() const { return owned_.get(); }

  void onEvents(std::uint32_t events) override;
  void onTimer() override;

  // A connection of this worker ended: accept again if a limit held this acceptor back.
  void onRoom();
  [[nodiscard]] bool waitingForRoom() const { return waiting_for_room_; }
  [[nodiscard]] std::uint32_t listenerIndex() const { return listener_index_; }
  // A reload kept this listener at another index of the new config.
  void setListenerIndex(std::uint32_t index) { listener_index_ = index; }

 private:
  void pause(int error);
  void waitForRoom();
  void unwatch();
  [[nodiscard]] int fd() const { return owned_ ? owned_.get() : shared_fd_; }

  Worker& worker_;
  std::uint32_t listener_index_;
  base::Fd owned_;
  int shared_fd_;
  bool watching_ = false;
  bool closed_ = false;
  bool suspended_ = false;
  bool waiting_for_room_ = false;
  std::int64_t backoff_ms_ = 0;
  std::int64_t last_log_ms_ = -1'000'000;
  std::uint64_t pauses_since_log_ = 0;
};

}  // namespace l4lb::worker
