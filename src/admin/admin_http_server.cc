#include "admin/admin_http_server.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <fmt/format.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <optional>
#include <string>

#include "base/fd.h"

namespace l4lb::admin {

namespace {

using Clock = std::chrono::steady_clock;

// How often a thread waiting on a client looks whether the server is stopping.
constexpr std::chrono::milliseconds kStopCheckInterval{100};

// Set by AdmissionQueue around a connection it refuses (run on the accept thread), and around
// each one it hands a pool thread: when it was accepted.
thread_local bool tl_refuse_connection = false;
thread_local Clock::time_point tl_accepted_at;

// A tcp:// listener may take a descriptor only while this many stay free for the data path.
std::size_t descriptorReserve(rlim_t limit) {
  return std::clamp<std::size_t>(static_cast<std::size_t>(limit / 8), 16, 1024);
}

// cpp-httplib's ThreadPool behind a cap on connections open at once (waiting or served). One
// over the cap is not queued: its job runs at once on the accept thread, marked refused, and
// only answers 503 and closes.
class AdmissionQueue final : public httplib::TaskQueue {
 public:
  explicit AdmissionQueue(std::size_t threads) : pool_(threads) {}

  void enqueue(std::function<void()> fn) override {
    if (open_.load() >= kMaxAdminConnections) {
      tl_refuse_connection = true;
      fn();
      tl_refuse_connection = false;
      return;
    }
    open_.fetch_add(1);
    pool_.enqueue([this, fn = std::move(fn), accepted = Clock::now()] {
      tl_accepted_at = accepted;
      fn();
      open_.fetch_sub(1);
    });
  }

  void shutdown() override { pool_.shutdown(); }

 private:
  httplib::ThreadPool pool_;
  std::atomic<std::size_t> open_{0};
};

std::optional<std::pair<std::string, int>> addressOf(const sockaddr_storage& addr) {
  char text[INET6_ADDRSTRLEN] = {};
  if (addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&addr);
    ::inet_ntop(AF_INET, &in->sin_addr, text, sizeof(text));
    return std::pair(std::string(text), static_cast<int>(ntohs(in->sin_port)));
  }
  if (addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&addr);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, text, sizeof(text));
    return std::pair(std::string(text), static_cast<int>(ntohs(in6->sin6_port)));
  }
  return std::nullopt;
}

void answerAndClose503(int fd, std::string_view why) {
  const std::string body = fmt::format("{{\"error\": \"{}\"}}\n", why);
  const std::string response = fmt::format(
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
      "Content-Length: {}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n{}",
      body.size(), body);
  (void)!::send(fd, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(fd, SHUT_RDWR);
}

// One admin connection as cpp-httplib reads and writes it. Reads of one request share its
// deadline; the request line and headers are kept as received, for the access decision.
class AdminConnection final : public httplib::Stream {
 public:
  AdminConnection(int fd, const std::atomic<socket_t>& listening, AccessContext context)
      : fd_(fd), listening_(listening), context_(std::move(context)) {}

  static AdminConnection*& current() {
    thread_local AdminConnection* connection = nullptr;
    return connection;
  }

  void beginRequest(Clock::time_point deadline) {
    read_deadline_ = deadline;
    writing_ = false;
    head_.clear();
    head_done_ = false;
    verdict_.reset();
  }

  // Keep-alive: whether the next request begins within `idle`.
  bool waitForRequest(Clock::duration idle) {
    return begin_ < end_ || waitFor(POLLIN, Clock::now() + idle);
  }

  const AccessVerdict& verdict(std::string_view method) {
    if (!verdict_) verdict_ = decideAccess(context_, method, head_);
    return *verdict_;
  }

  [[nodiscard]] bool refused() const { return verdict_ && verdict_->status != 0; }

  bool is_readable() const override { return begin_ < end_ || waitFor(POLLIN, read_deadline_); }

  bool is_writable() const override { return waitFor(POLLOUT, writeDeadline()); }

  ssize_t read(char* ptr, size_t size) override {
    if (begin_ == end_) {
      const ssize_t filled = fill();
      if (filled <= 0) return filled;
    }
    std::size_t n = std::min(size, end_ - begin_);
    if (!head_done_) n = recordHead(n);
    if (n == 0) return -1;  // the head is over its limit
    std::copy_n(buffer_ + begin_, n, ptr);
    begin_ += n;
    return static_cast<ssize_t>(n);
  }

  ssize_t write(const char* ptr, size_t size) override {
    if (!writing_) {
      writing_ = true;
      write_deadline_ = Clock::now() + kAdminWriteDeadline;
    }
    while (true) {
      const ssize_t n = ::send(fd_, ptr, size, MSG_NOSIGNAL);
      if (n >= 0) return n;
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
      if (!waitFor(POLLOUT, write_deadline_)) return -1;
    }
  }

  void get_remote_ip_and_port(std::string& ip, int& port) const override {
    sockaddr_storage addr{};
    socklen_t len = sizeof(addr);
    if (::getpeername(fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) return;
    if (auto found = addressOf(addr)) std::tie(ip, port) = *found;
  }

  void get_local_ip_and_port(std::string& ip, int& port) const override {
    ip = context_.local_ip;
    port = context_.local_port;
  }

  socket_t socket() const override { return fd_; }

 private:
  Clock::time_point writeDeadline() const {
    return writing_ ? write_deadline_ : Clock::now() + kAdminWriteDeadline;
  }

  // Whether `events` came before `deadline` (checked once even when it has passed, so bytes
  // already received are still read); false too when the server stops.
  bool waitFor(short events, Clock::time_point deadline) const {
    while (true) {
      if (listening_.load() == INVALID_SOCKET) return false;
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      const auto wait = std::clamp(left, std::chrono::milliseconds(0), kStopCheckInterval);
      pollfd pfd{.fd = fd_, .events = events, .revents = 0};
      const int ready = ::poll(&pfd, 1, static_cast<int>(wait.count()));
      if (ready > 0) return true;
      if (ready < 0 && errno != EINTR) return false;
      if (left.count() <= 0) return false;
    }
  }

  // Bytes into the buffer before the deadline: their count, 0 at end of stream, -1 otherwise.
  ssize_t fill() {
    begin_ = end_ = 0;
    while (true) {
      const ssize_t n = ::recv(fd_, buffer_, sizeof(buffer_), 0);
      if (n >= 0) {
        end_ = static_cast<std::size_t>(n);
        return n;
      }
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
      if (!waitFor(POLLIN, read_deadline_)) return -1;
    }
  }

  // Keeps up to `n` of the next bytes as head bytes, stopping after the blank line that ends
  // the head; how many may be handed on (0: the head is too long).
  std::size_t recordHead(std::size_t n) {
    for (std::size_t i = 0; i < n; ++i) {
      if (head_.size() >= kMaxAdminHeadBytes) return i;
      head_ += buffer_[begin_ + i];
      if (head_.ends_with("\n\r\n") || head_.ends_with("\n\n")) {
        head_done_ = true;
        return i + 1;
      }
    }
    return n;
  }

  int fd_;
  const std::atomic<socket_t>& listening_;
  AccessContext context_;
  char buffer_[4096];
  std::size_t begin_ = 0;
  std::size_t end_ = 0;
  Clock::time_point read_deadline_;
  Clock::time_point write_deadline_;
  bool writing_ = false;
  std::string head_;
  bool head_done_ = false;
  std::optional<AccessVerdict> verdict_;
};

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
  new_task_queue = [] { return new AdmissionQueue(kAdminThreads); };
}

const AccessVerdict& AdminHttpServer::verdictFor(const httplib::Request& request) {
  AdminConnection* connection = AdminConnection::current();
  return connection != nullptr ? connection->verdict(request.method) : kNoConnection;
}

bool AdminHttpServer::process_and_close_socket(socket_t sock) {
  const base::Fd fd(sock);
  if (tl_refuse_connection) {
    answerAndClose503(sock, "too many admin connections open; try again");
    return false;
  }
  if (!context_.over_unix && descriptorsRunLow(sock)) {
    answerAndClose503(sock, "l4lb is short of descriptors; the rest are kept for traffic");
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
  AdminConnection connection(sock, svr_sock_, std::move(context));
  AdminConnection::current() = &connection;
  Clock::time_point deadline = tl_accepted_at + kAdminRequestDeadline;
  for (std::size_t served = 0; served < keep_alive_max_count_; ++served) {
    if (served > 0) {
      if (!connection.waitForRequest(std::chrono::seconds(keep_alive_timeout_sec_))) break;
      deadline = Clock::now() + kAdminRequestDeadline;
    }
    connection.beginRequest(deadline);
    const bool last = served + 1 == keep_alive_max_count_ || svr_sock_ == INVALID_SOCKET;
    bool closed = false;
    if (!process_request(connection, last, closed, nullptr) || closed || connection.refused()) {
      break;
    }
  }
  AdminConnection::current() = nullptr;
  ::shutdown(sock, SHUT_RDWR);
  return true;
}

}  // namespace l4lb::admin
