#pragma once

#include <httplib.h>

#include <chrono>
#include <cstddef>

#include "admin/request_guard.h"

namespace l4lb::admin {

// How much of l4lb one admin listener may hold (README.md, "Admin API"). Each listener has its
// own threads, so no client of a tcp:// listener can take the unix:// socket's.
inline constexpr std::size_t kAdminThreads = 4;
// Connections open at once, served and waiting; past it a connection is answered 503 and closed
// as soon as it is accepted, so a flood holds no more descriptors than this.
inline constexpr std::size_t kMaxAdminConnections = 32;
// From accept (or, on a kept-alive connection, from the first byte of the next request) to the
// last byte of the body: one deadline for the whole request, however the bytes trickle in.
inline constexpr std::chrono::seconds kAdminRequestDeadline{10};
// For writing one response, however slowly the client reads.
inline constexpr std::chrono::seconds kAdminWriteDeadline{10};
// The request line and headers together.
inline constexpr std::size_t kMaxAdminHeadBytes = 16 * 1024;

// cpp-httplib's Server with the admin API's limits. cpp-httplib itself reads with a timeout per
// recv (a client sending a byte every few seconds holds a thread for ever), queues accepted
// connections without bound, and parses headers leniently; here its accept loop stays, and each
// connection is served by our own loop: admission (the cap above and, on tcp://, a reserve of
// descriptors for the data path), a Stream whose reads share one deadline per request and which
// keeps the head's raw bytes, and the access decision (request_guard.h) made from those bytes.
class AdminHttpServer : public httplib::Server {
 public:
  // `context`: the listener's part (over_unix, loopback_listener, token); the connection's
  // address is filled in per connection. `token` must outlive the server.
  explicit AdminHttpServer(AccessContext context);

  // The access decision on the request this thread is serving (httplib hands its handlers only
  // the Request, and serves one connection per thread from accept to close).
  [[nodiscard]] static const AccessVerdict& verdictFor(const httplib::Request& request);

 private:
  bool process_and_close_socket(socket_t sock) override;

  AccessContext context_;
};

// Whether a descriptor numbered `fd` leaves the process fewer than its reserve of free
// descriptors (the kernel hands out the lowest free number, so every lower one was in use).
[[nodiscard]] bool descriptorsRunLow(int fd);

}  // namespace l4lb::admin
