#include "admin/admin_connection.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <charconv>

#include "admin/admin_limits.h"

namespace l4lb::admin {

namespace {

// How often a serving thread waiting on a client looks whether the listener is stopping.
constexpr std::chrono::milliseconds kServingStopCheck{100};

}  // namespace

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

bool statusClosesConnection(int status) {
  switch (status) {
    case 400:
    case 408:
    case 411:
    case 413:
    case 414:
    case 431: return true;
    default: return false;
  }
}

AdminConnection::AdminConnection(base::Fd fd, AccessContext context,
                                 const std::atomic<bool>& stopping)
    : fd_(std::move(fd)), context_(std::move(context)), stopping_(stopping) {}

AdminConnection*& AdminConnection::current() {
  thread_local AdminConnection* connection = nullptr;
  return connection;
}

bool AdminConnection::receiveAvailable(std::size_t limit) {
  while (received_.size() < limit) {
    const std::size_t before = received_.size();
    received_.resize(std::min(limit, before + 16 * 1024));
    const ssize_t n =
        ::recv(fd_.get(), received_.data() + before, received_.size() - before, MSG_DONTWAIT);
    received_.resize(before + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
    if (n > 0) continue;
    if (n == 0) {
      peer_closed_ = true;
      return false;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
    peer_closed_ = true;
    return false;
  }
  return true;
}

void AdminConnection::beginRequest(AdminClock::time_point deadline,
                                   std::optional<std::size_t> length) {
  read_deadline_ = deadline;
  request_length_ = length;
  served_bytes_ = 0;
  writing_ = false;
  head_.clear();
  head_done_ = false;
  verdict_.reset();
  status_ = 0;
}

void AdminConnection::endRequest() {
  // A whole request is dropped whole: cpp-httplib does not read the body of a GET it was sent.
  received_.erase(0, request_length_ ? *request_length_ : served_bytes_);
  served_bytes_ = 0;
  ++served_;
}

const AccessVerdict& AdminConnection::verdict(std::string_view method) {
  if (!verdict_) verdict_ = decideAccess(context_, method, head_);
  return *verdict_;
}

bool AdminConnection::is_readable() const {
  return served_bytes_ < received_.size() || waitFor(POLLIN, read_deadline_);
}

bool AdminConnection::is_writable() const { return waitFor(POLLOUT, writeDeadline()); }

ssize_t AdminConnection::read(char* ptr, size_t size) {
  if (request_length_) {
    // The whole request is buffered: past it is the next request, not this one's body.
    if (served_bytes_ >= *request_length_) return 0;
    size = std::min(size, *request_length_ - served_bytes_);
  } else if (served_bytes_ == received_.size()) {
    const ssize_t filled = receiveUntilDeadline();
    if (filled <= 0) return filled;
  }
  std::size_t n = std::min(size, received_.size() - served_bytes_);
  if (!head_done_) n = recordHead(n);
  if (n == 0) return -1;  // the head is over its limit
  std::copy_n(received_.data() + served_bytes_, n, ptr);
  served_bytes_ += n;
  return static_cast<ssize_t>(n);
}

ssize_t AdminConnection::write(const char* ptr, size_t size) {
  if (!writing_) {
    writing_ = true;
    write_deadline_ = AdminClock::now() + kAdminWriteDeadline;
  }
  noteStatus(std::string_view(ptr, size));
  while (true) {
    const ssize_t n = ::send(fd_.get(), ptr, size, MSG_NOSIGNAL);
    if (n >= 0) return n;
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
    if (!waitFor(POLLOUT, write_deadline_)) return -1;
  }
}

void AdminConnection::get_remote_ip_and_port(std::string& ip, int& port) const {
  sockaddr_storage addr{};
  socklen_t len = sizeof(addr);
  if (::getpeername(fd_.get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) return;
  if (auto found = addressOf(addr)) std::tie(ip, port) = *found;
}

void AdminConnection::get_local_ip_and_port(std::string& ip, int& port) const {
  ip = context_.local_ip;
  port = context_.local_port;
}

AdminClock::time_point AdminConnection::writeDeadline() const {
  return writing_ ? write_deadline_ : AdminClock::now() + kAdminWriteDeadline;
}

// Whether `events` came before `deadline` (checked once even when it has passed, so bytes
// already received are still read); false too when the listener stops.
bool AdminConnection::waitFor(short events, AdminClock::time_point deadline) const {
  while (true) {
    if (stopping_.load()) return false;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - AdminClock::now());
    const auto wait = std::clamp(left, std::chrono::milliseconds(0), kServingStopCheck);
    pollfd pfd{.fd = fd_.get(), .events = events, .revents = 0};
    const int ready = ::poll(&pfd, 1, static_cast<int>(wait.count()));
    if (ready > 0) return true;
    if (ready < 0 && errno != EINTR) return false;
    if (left.count() <= 0) return false;
  }
}

// More of a body left on the socket (a chunked one, or one cpp-httplib refuses as too long),
// before the request's deadline: how many bytes came, 0 at end of stream, -1 otherwise.
ssize_t AdminConnection::receiveUntilDeadline() {
  while (true) {
    const std::size_t before = received_.size();
    received_.resize(before + 4096);
    const ssize_t n = ::recv(fd_.get(), received_.data() + before, 4096, MSG_DONTWAIT);
    received_.resize(before + static_cast<std::size_t>(std::max<ssize_t>(n, 0)));
    if (n >= 0) {
      if (n == 0) peer_closed_ = true;
      return n;
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN && errno != EWOULDBLOCK) return -1;
    if (!waitFor(POLLIN, read_deadline_)) return -1;
  }
}

// Keeps up to `n` of the next bytes as head bytes, stopping after the blank line that ends the
// head; how many may be handed on (0: the head is too long).
std::size_t AdminConnection::recordHead(std::size_t n) {
  for (std::size_t i = 0; i < n; ++i) {
    if (head_.size() >= kMaxAdminHeadBytes) return i;
    head_ += received_[served_bytes_ + i];
    if (head_.ends_with("\n\r\n") || head_.ends_with("\n\n")) {
      head_done_ = true;
      return i + 1;
    }
  }
  return n;
}

// cpp-httplib writes the status line and headers in one write; an interim "100 Continue" comes
// before the final status.
void AdminConnection::noteStatus(std::string_view written) {
  if (status_ >= 200 || !written.starts_with("HTTP/1.") || written.size() < 12) return;
  int status = 0;
  const char* digits = written.data() + 9;
  if (std::from_chars(digits, digits + 3, status).ec == std::errc()) status_ = status;
}

}  // namespace l4lb::admin
