#pragma once

#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "admin/controller.h"
#include "base/result.h"
#include "config/config.h"

namespace httplib {
class Server;
}

namespace l4lb::admin {

// The admin API's HTTP/1.1 listeners (config [admin] listen), each served by its own threads
// off the workers' loops, within the limits of admin_http_server.h. unix:// sockets are created
// mode 0600 (a stale socket file left by a previous run is replaced; one another process is
// serving is not); tcp:// listeners apply request_guard.h: a Host naming the listener, no
// foreign Origin on changes, and changes (on a non-loopback address, reads too) only with
// "Authorization: Bearer <token_file>".
class AdminServer {
 public:
  AdminServer(const config::AdminConfig& config, Controller& controller);
  ~AdminServer();
  AdminServer(const AdminServer&) = delete;
  AdminServer& operator=(const AdminServer&) = delete;

  // Binds every listener (before the workers start, so an error stops l4lb at startup). The
  // error names the URL and what to do about it.
  [[nodiscard]] base::Result<void> bind();
  void start();
  // Stops serving, joins the threads and removes the socket files.
  void stop();

 private:
  struct Listener;

  const config::AdminConfig& config_;
  Controller& controller_;
  std::vector<std::unique_ptr<Listener>> listeners_;
};

}  // namespace l4lb::admin
