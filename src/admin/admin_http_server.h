#pragma once

#include <httplib.h>

#include "admin/admin_connection.h"
#include "admin/admin_limits.h"
#include "admin/request_guard.h"

namespace l4lb::admin {

class AdminConnectionReader;

// cpp-httplib's Server with the admin API's limits (admin_limits.h). cpp-httplib itself reads
// with a timeout per recv on a thread per connection (a client sending a byte every few seconds
// holds a thread for ever), queues accepted connections without bound, and parses headers
// leniently. Here its accept loop, parser and router stay; each accepted connection goes to the
// listener's reader thread (admin_connection_reader.h), which reads requests under one deadline
// each, holds the cap on connections and evicts the slowest, and hands a serving thread only
// whole requests; the serving thread runs cpp-httplib's process_request on them (its Stream
// serves the buffered bytes, keeping the head's raw bytes for the access decision,
// request_guard.h). On tcp:// a reserve of descriptors is kept for the data path.
class AdminHttpServer : public httplib::Server {
 public:
  // `context`: the listener's part (over_unix, loopback_listener, token); the connection's
  // address is filled in per connection. `token` must outlive the server.
  explicit AdminHttpServer(AccessContext context);

  // The access decision on the request this thread is serving (httplib hands its handlers only
  // the Request; a serving thread serves one request at a time).
  [[nodiscard]] static const AccessVerdict& verdictFor(const httplib::Request& request);

 private:
  // Runs on httplib's accept thread (the reader's enqueue() runs the job at once): admits the
  // connection to the reader, or answers 503 when descriptors run low.
  bool process_and_close_socket(socket_t sock) override;
  // On a serving thread: one whole request; whether the connection stays open.
  bool serveRequest(AdminConnection& connection);

  AccessContext context_;
  // The reader of the listen loop running now (httplib owns it, as its task queue, from the
  // loop's start to its end; accepts happen only in between).
  AdminConnectionReader* reader_ = nullptr;
};

// Whether a descriptor numbered `fd` leaves the process fewer than its reserve of free
// descriptors (the kernel hands out the lowest free number, so every lower one was in use).
[[nodiscard]] bool descriptorsRunLow(int fd);

}  // namespace l4lb::admin
