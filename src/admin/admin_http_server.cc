#include "admin/admin_http_server.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <algorithm>
#include <string>

#include "admin/admin_connection_reader.h"
#include "base/fd.h"

namespace l4lb::admin {

namespace {

// A tcp:// listener may take a descriptor only while this many stay free for the data path.
std::size_t descriptorReserve(rlim_t limit) {
  return std::clamp<std::size_t>(static_cast<std::size_t>(limit / 8), 16, 1024);
}

void refuseShortOfDescriptors(int fd) {
  const std::string body =
      "{\"error\": \"l4lb is short of descriptors; the rest are kept for traffic\"}\n";
  const std::string response = fmt::format(
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
      "Content-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{}",
      body.size(), body);
  (void)!::send(fd, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(fd, SHUT_RDWR);
}

const AccessVerdict kNoConnection{
    .status = 500, .message = "no admin connection on this thread", .may_change = false};

}  // namespace

bool descriptorsRunLow(int fd) {
  rlimit limit{};
  if (::getrlimit(RLIMIT_NOFILE, &limit) != 0 || limit.rlim_cur == RLIM_INFINITY) return false;
  const std::size_t reserve = descriptorReserve(limit.rlim_cur);
  return static_cast<rlim_t>(fd) + reserve >= limit.rlim_cur;
}

AdminHttpServer::AdminHttpServer(AccessContext context) : context_(std::move(context)) {
  new_task_queue = [this] {
    auto* reader = new AdminConnectionReader(
        [this](AdminConnection& connection) { return serveRequest(connection); },
        std::chrono::seconds(keep_alive_timeout_sec_));
    reader_ = reader;
    return reader;
  };
}

const AccessVerdict& AdminHttpServer::verdictFor(const httplib::Request& request) {
  AdminConnection* connection = AdminConnection::current();
  return connection != nullptr ? connection->verdict(request.method) : kNoConnection;
}

bool AdminHttpServer::process_and_close_socket(socket_t sock) {
  base::Fd fd(sock);
  if (!context_.over_unix && descriptorsRunLow(sock)) {
    refuseShortOfDescriptors(sock);
    return false;
  }
  // cpp-httplib accepts with accept(), without these flags.
  ::fcntl(sock, F_SETFD, FD_CLOEXEC);
  ::fcntl(sock, F_SETFL, ::fcntl(sock, F_GETFL) | O_NONBLOCK);

  AccessContext context = context_;
  if (!context.over_unix) {
    sockaddr_storage local{};
    socklen_t len = sizeof(local);
    if (::getsockname(sock, reinterpret_cast<sockaddr*>(&local), &len) == 0) {
      if (auto found = addressOf(local)) std::tie(context.local_ip, context.local_port) = *found;
    }
  }
  reader_->admit(std::move(fd), std::move(context));
  return true;
}

bool AdminHttpServer::serveRequest(AdminConnection& connection) {
  AdminConnection::current() = &connection;
  const bool last =
      connection.requestsServed() + 1 >= keep_alive_max_count_ || svr_sock_ == INVALID_SOCKET;
  bool closed = false;
  const bool answered = process_request(connection, last, closed, nullptr);
  AdminConnection::current() = nullptr;
  // A malformed, unreadable or refused request ends its connection: where the next request
  // would begin is unknown, or the client is not one to keep serving.
  return answered && !closed && !last && !connection.refused() &&
         !statusClosesConnection(connection.responseStatus());
}

}  // namespace l4lb::admin
