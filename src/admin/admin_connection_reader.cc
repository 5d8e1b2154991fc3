#include "admin/admin_connection_reader.h"

#include <fmt/format.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <string>

#include "admin/admin_limits.h"
#include "admin/request_framing.h"

namespace l4lb::admin {

namespace {

// The reader's buffer for one connection: a whole head and body, and a little of what follows.
constexpr std::size_t kReaderBufferBytes = kMaxAdminHeadBytes + kMaxAdminBodyBytes + 4096;

// Answers a connection the reader or the accept thread gives up on, without waiting for a
// client that does not read; the connection is closed right after.
void answerBeforeClose(int fd, int status, std::string_view reason, std::string_view why) {
  const std::string body = fmt::format("{{\"error\": \"{}\"}}\n", why);
  const std::string response = fmt::format(
      "HTTP/1.1 {} {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{}"
      "Connection: close\r\n\r\n{}",
      status, reason, body.size(), status == 503 ? "Retry-After: 1\r\n" : "", body);
  (void)!::send(fd, response.data(), response.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
  ::shutdown(fd, SHUT_RDWR);
}

}  // namespace

AdminConnectionReader::AdminConnectionReader(Serve serve, std::chrono::seconds keep_alive)
    : serve_(std::move(serve)),
      keep_alive_(keep_alive),
      wake_fd_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)),
      pool_(kAdminThreads) {
  thread_ = std::thread([this] { run(); });
}

AdminConnectionReader::~AdminConnectionReader() { shutdown(); }

void AdminConnectionReader::shutdown() {
  if (stopping_.exchange(true)) return;
  wake();
  admitted_.notify_all();
  if (thread_.joinable()) thread_.join();
  // Serving threads see stopping_ in every wait, so their requests end soon.
  pool_.shutdown();
  std::lock_guard lock(mutex_);
  arrivals_.clear();
  returns_.clear();
  entries_.clear();
}

void AdminConnectionReader::admit(base::Fd fd, AccessContext context) {
  std::unique_lock lock(mutex_);
  if (stopping_.load()) return;
  arrivals_.push_back(Arrival{.fd = std::move(fd), .context = std::move(context)});
  wake();
  admitted_.wait(lock, [this] { return arrivals_.empty() || stopping_.load(); });
}

void AdminConnectionReader::wake() {
  const std::uint64_t one = 1;
  (void)!::write(wake_fd_.get(), &one, sizeof(one));
}

void AdminConnectionReader::run() {
  std::vector<pollfd> polled;
  std::vector<Entry*> polled_entries;
  while (!stopping_.load()) {
    polled.assign(1, pollfd{.fd = wake_fd_.get(), .events = POLLIN, .revents = 0});
    polled_entries.assign(1, nullptr);
    auto next_deadline = AdminClock::now() + std::chrono::seconds(1);
    for (Entry& entry : entries_) {
      if (entry.serving) continue;
      polled.push_back(pollfd{.fd = entry.connection->socket(), .events = POLLIN, .revents = 0});
      polled_entries.push_back(&entry);
      next_deadline = std::min(next_deadline, entry.deadline);
    }
    const auto wait = std::chrono::ceil<std::chrono::milliseconds>(
        std::max(next_deadline - AdminClock::now(), AdminClock::duration::zero()));
    const int ready = ::poll(polled.data(), polled.size(), static_cast<int>(wait.count()));
    if (ready < 0 && errno != EINTR) break;
    if (polled[0].revents != 0) {
      std::uint64_t count = 0;
      (void)!::read(wake_fd_.get(), &count, sizeof(count));
    }
    // Arrivals may evict polled entries: those are only marked closing, and skipped below.
    takeArrivals();
    takeReturns();
    for (std::size_t i = 1; i < polled.size(); ++i) {
      Entry& entry = *polled_entries[i];
      if (polled[i].revents != 0 && !entry.closing && !entry.serving) onReadable(entry);
    }
    expire(AdminClock::now());
    entries_.remove_if([](const Entry& entry) { return entry.closing; });
  }
}

void AdminConnectionReader::takeArrivals() {
  std::vector<Arrival> arrived;
  {
    std::lock_guard lock(mutex_);
    arrived.swap(arrivals_);
  }
  for (Arrival& arrival : arrived) admitOne(std::move(arrival));
  admitted_.notify_all();
}

void AdminConnectionReader::admitOne(Arrival arrival) {
  const auto open = static_cast<std::size_t>(std::count_if(
      entries_.begin(), entries_.end(), [](const Entry& entry) { return !entry.closing; }));
  if (open >= kMaxAdminConnections) {
    std::vector<EvictionCandidate> candidates;
    std::vector<Entry*> candidate_entries;
    for (Entry& entry : entries_) {
      if (entry.closing) continue;
      candidates.push_back({.serving = entry.serving, .waiting_since = entry.waiting_since});
      candidate_entries.push_back(&entry);
    }
    const std::optional<std::size_t> evictee = pickEvictee(candidates);
    if (!evictee) {
      answerBeforeClose(arrival.fd.get(), 503, "Service Unavailable",
                        "too many admin connections open; try again");
      return;
    }
    Entry& evicted = *candidate_entries[*evictee];
    close(evicted, !evicted.idle && !evicted.connection->received().empty());
  }
  const auto now = AdminClock::now();
  entries_.push_back(Entry{.connection = std::make_unique<AdminConnection>(
                               std::move(arrival.fd), std::move(arrival.context), stopping_),
                           .waiting_since = now,
                           .deadline = now + kAdminRequestDeadline});
}

void AdminConnectionReader::takeReturns() {
  std::vector<Return> returned;
  {
    std::lock_guard lock(mutex_);
    returned.swap(returns_);
  }
  const auto now = AdminClock::now();
  for (const auto& [connection, keep] : returned) {
    auto it = std::find_if(
        entries_.begin(), entries_.end(),
        [wanted = connection](const Entry& entry) { return entry.connection.get() == wanted; });
    if (it == entries_.end()) continue;
    Entry& entry = *it;
    entry.serving = false;
    if (entry.closing) continue;
    entry.waiting_since = now;
    if (!keep) {
      close(entry, false);
      continue;
    }
    if (connection->received().empty()) {
      if (connection->peerClosed()) {
        close(entry, false);
        continue;
      }
      entry.idle = true;
      entry.deadline = now + keep_alive_;
      continue;
    }
    // Pipelined: the next request began with bytes that came with the last one.
    entry.idle = false;
    entry.deadline = now + kAdminRequestDeadline;
    dispatchIfWhole(entry);
  }
}

void AdminConnectionReader::onReadable(Entry& entry) {
  AdminConnection& connection = *entry.connection;
  (void)connection.receiveAvailable(kReaderBufferBytes);
  if (entry.idle && !connection.received().empty()) {
    // The next request's first byte: its deadline starts now (the first request's ran from
    // accept).
    entry.idle = false;
    entry.waiting_since = AdminClock::now();
    entry.deadline = entry.waiting_since + kAdminRequestDeadline;
  }
  dispatchIfWhole(entry);
  if (!entry.serving && connection.peerClosed()) close(entry, false);
}

void AdminConnectionReader::dispatchIfWhole(Entry& entry) {
  AdminConnection& connection = *entry.connection;
  const RequestFraming framing =
      frameRequest(connection.received(), kMaxAdminHeadBytes, kMaxAdminBodyBytes);
  if (framing.kind == RequestFraming::Kind::kNeedMore &&
      connection.received().size() < kReaderBufferBytes) {
    return;
  }
  std::optional<std::size_t> length;
  if (framing.kind == RequestFraming::Kind::kComplete) length = framing.length;
  connection.beginRequest(entry.deadline, length);
  entry.serving = true;
  AdminConnection* served = &connection;
  pool_.enqueue([this, served] {
    const bool keep = serve_(*served);
    served->endRequest();
    // Closed by the reader, which alone removes entries; shut down here so the client learns
    // of it now.
    if (!keep) ::shutdown(served->socket(), SHUT_RDWR);
    std::lock_guard lock(mutex_);
    returns_.push_back(Return{.connection = served, .keep = keep});
    wake();
  });
}

void AdminConnectionReader::expire(AdminClock::time_point now) {
  for (Entry& entry : entries_) {
    if (entry.serving || entry.closing || entry.deadline > now) continue;
    close(entry, !entry.idle && !entry.connection->received().empty());
  }
}

void AdminConnectionReader::close(Entry& entry, bool answer_408) {
  if (answer_408) {
    // Bytes left unread at close would make the kernel reset the connection, and the client
    // could lose the answer: read what has come first.
    (void)entry.connection->receiveAvailable(entry.connection->received().size() + 64 * 1024);
    answerBeforeClose(entry.connection->socket(), 408, "Request Timeout",
                      "the request did not arrive whole within its deadline");
  }
  entry.closing = true;
}

}  // namespace l4lb::admin
