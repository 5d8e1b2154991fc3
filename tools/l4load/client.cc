#include "client.h"

#include <sys/epoll.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <fstream>
#include <memory>
#include <unordered_map>

namespace l4load {

namespace {

constexpr std::uint64_t kTickMs = 20;

struct ClientConn {
  Fd fd;
  std::uint64_t id = 0;
  std::uint64_t started_ms = 0;
  std::uint64_t last_progress_ms = 0;
  std::uint64_t next_send_ms = 0;  // paced streams wait for this
  std::uint64_t burst_left = 0;    // bytes of the current burst still to send
  std::string hello;               // a PROXY v1 line (--proxy-v1), then the hello
  std::size_t hello_sent = 0;
  std::uint64_t to_send = 0;  // payload bytes this side sends
  std::uint64_t expect = 0;   // payload bytes this side must receive
  StreamWriter writer;
  StreamVerifier verifier;
  bool write_shut = false;
  bool peer_fin = false;
  ConnRecord record;

  ClientConn(std::uint64_t seed, std::uint64_t reply_seed) : writer(seed), verifier(reply_seed) {}
};

class ClientRun {
 public:
  explicit ClientRun(const ClientOptions& o) : o_(o), epoll_(::epoll_create1(EPOLL_CLOEXEC)) {
    if (!o_.records_path.empty()) records_.open(o_.records_path);
  }

  nlohmann::json run() {
    const std::uint64_t begin = monotonicMs();
    const std::uint64_t hard_end = begin + o_.duration_ms + o_.connect_timeout_ms + o_.stall_ms +
                                   o_.gap_ms * (o_.chunk ? o_.bytes / o_.chunk + 1 : 1) + 5000;
    std::uint64_t last_scan = 0;
    while (true) {
      const std::uint64_t now = monotonicMs();
      const bool may_start = started_ < o_.count && now - begin < o_.duration_ms;
      if (may_start) startDue(now - begin);
      if (!may_start && conns_.empty()) break;
      if (now >= hard_end) {
        for (auto& [fd, c] : conns_) end(*c, EndKind::kTimeout, 0, Failure::kTimeout, false);
        conns_.clear();
        break;
      }
      std::array<epoll_event, 256> events;
      const int n = ::epoll_wait(epoll_.get(), events.data(), events.size(), kTickMs);
      for (int i = 0; i < n; ++i) {
        auto it = conns_.find(events[i].data.fd);
        if (it == conns_.end()) continue;
        if (!step(*it->second, events[i].events)) conns_.erase(it);
      }
      if (monotonicMs() - last_scan >= kTickMs) {
        last_scan = monotonicMs();
        scan(last_scan);
      }
    }
    nlohmann::json out = summary_.toJson();
    out["role"] = "client";
    out["mode"] = modeName(o_.mode);
    out["elapsed_ms"] = monotonicMs() - begin;
    out["peak_open"] = peak_open_;
    return out;
  }

 private:
  void startDue(std::uint64_t elapsed_ms) {
    std::uint64_t due = o_.count;
    if (o_.rate > 0) {
      due = std::min<std::uint64_t>(
          o_.count,
          static_cast<std::uint64_t>(o_.rate * static_cast<double>(elapsed_ms) / 1000.0) + 1);
    }
    const std::uint64_t cap = o_.rate > 0 ? o_.max_open : std::min(o_.max_open, o_.concurrency);
    while (started_ < due && conns_.size() < cap) start();
  }

  void start() {
    const std::uint64_t id = started_++;
    const std::uint64_t seed = o_.seed * 0x100000001b3ULL + id;
    auto c = std::make_unique<ClientConn>(seed, o_.mode == Mode::kEcho ? seed : seed ^ kServerSalt);
    c->id = id;
    c->started_ms = c->last_progress_ms = monotonicMs();
    const auto hello = Hello{o_.mode, seed, o_.bytes}.encode();
    c->hello.assign(hello.begin(), hello.end());
    c->to_send = o_.mode == Mode::kSource ? 0 : o_.bytes;
    c->expect = o_.mode == Mode::kSink ? 0 : o_.bytes;
    const Address& target = o_.targets[id % o_.targets.size()];
    c->fd = makeSocket(target.family(), SOCK_STREAM);
    if (!c->fd) {
      end(*c, EndKind::kErrno, errno, Failure::kConnect, false);
      return;
    }
    if (!o_.sources.empty()) {
      const Address& source = o_.sources[id % o_.sources.size()];
      const int one = 1;
      ::setsockopt(c->fd.get(), SOL_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
      if (::bind(c->fd.get(), source.get(), source.length) != 0) {
        end(*c, EndKind::kErrno, errno, Failure::kConnect, false);
        return;
      }
    }
    if (::connect(c->fd.get(), target.get(), target.length) != 0 && errno != EINPROGRESS) {
      end(*c, EndKind::kErrno, errno, Failure::kConnect, false);
      return;
    }
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET;
    ev.data.fd = c->fd.get();
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, c->fd.get(), &ev);
    const int key = c->fd.get();
    conns_.emplace(key, std::move(c));
    peak_open_ = std::max<std::uint64_t>(peak_open_, conns_.size());
  }

  // False once the connection has ended (the caller drops it).
  bool step(ClientConn& c, std::uint32_t events) {
    if (!c.record.established) {
      int error = 0;
      socklen_t len = sizeof error;
      ::getsockopt(c.fd.get(), SOL_SOCKET, SO_ERROR, &error, &len);
      if (error != 0) return end(c, EndKind::kErrno, error, Failure::kConnect, false);
      if (!(events & (EPOLLOUT | EPOLLIN))) return true;
      c.record.established = true;
      c.record.connect_ms = static_cast<double>(monotonicMs() - c.started_ms);
      c.burst_left = o_.chunk ? o_.chunk : c.to_send;
      if (o_.proxy_v1) c.hello.insert(0, proxyV1Line(c.fd.get()));
    }
    if (!readAll(c)) return false;
    if (!writeDue(c, monotonicMs())) return false;
    return maybeFinish(c);
  }

  // "PROXY TCP4 src dst sport dport\r\n" for this connection's own addresses.
  static std::string proxyV1Line(int fd) {
    Address local, peer;
    local.length = peer.length = sizeof(sockaddr_storage);
    ::getsockname(fd, reinterpret_cast<sockaddr*>(&local.storage), &local.length);
    ::getpeername(fd, reinterpret_cast<sockaddr*>(&peer.storage), &peer.length);
    auto split = [](const std::string& text) {
      const auto colon = text.rfind(':');
      std::string host = text.substr(0, colon);
      if (host.starts_with('[')) host = host.substr(1, host.size() - 2);
      return std::pair{host, text.substr(colon + 1)};
    };
    const auto [src, sport] = split(formatAddress(local));
    const auto [dst, dport] = split(formatAddress(peer));
    return "PROXY " + std::string(local.family() == AF_INET ? "TCP4 " : "TCP6 ") + src + " " + dst +
           " " + sport + " " + dport + "\r\n";
  }

  bool readAll(ClientConn& c) {
    while (!c.peer_fin) {
      const ssize_t n = ::recv(c.fd.get(), buffer_.data(), buffer_.size(), 0);
      if (n > 0) {
        c.record.bytes_received += static_cast<std::uint64_t>(n);
        c.last_progress_ms = monotonicMs();
        if (!c.verifier.consume(std::span(buffer_.data(), static_cast<std::size_t>(n))) ||
            c.record.bytes_received > c.expect) {
          return end(c, EndKind::kErrno, 0, Failure::kCorrupt, true);
        }
      } else if (n == 0) {
        c.peer_fin = true;
        c.last_progress_ms = monotonicMs();
      } else if (errno == EAGAIN || errno == EINTR) {
        if (errno == EAGAIN) break;
      } else {
        return endOnError(c, errno);
      }
    }
    return true;
  }

  bool endOnError(ClientConn& c, int error) {
    if (error == ECONNRESET || error == EPIPE) {
      return end(c, EndKind::kRst, 0, Failure::kReset, true);
    }
    return end(c, EndKind::kErrno, error, Failure::kError, true);
  }

  bool writeDue(ClientConn& c, std::uint64_t now) {
    while (c.hello_sent < c.hello.size()) {
      const ssize_t n = ::send(c.fd.get(), c.hello.data() + c.hello_sent,
                               c.hello.size() - c.hello_sent, MSG_NOSIGNAL);
      if (n < 0) return errno == EAGAIN ? true : endOnError(c, errno);
      c.hello_sent += static_cast<std::size_t>(n);
    }
    while (c.writer.position() < c.to_send && now >= c.next_send_ms) {
      const std::uint64_t want =
          std::min<std::uint64_t>({c.burst_left, c.to_send - c.writer.position(), buffer_.size()});
      c.writer.fill(std::span(out_.data(), want));
      const ssize_t n = ::send(c.fd.get(), out_.data(), want, MSG_NOSIGNAL);
      if (n < 0) {
        c.writer.rewind(want);
        return errno == EAGAIN ? true : endOnError(c, errno);
      }
      c.writer.rewind(want - static_cast<std::uint64_t>(n));
      c.record.bytes_sent += static_cast<std::uint64_t>(n);
      c.burst_left -= static_cast<std::uint64_t>(n);
      if (n > 0) c.last_progress_ms = now;
      if (c.burst_left == 0) {
        c.burst_left = o_.chunk ? o_.chunk : c.to_send;
        c.next_send_ms = now + o_.gap_ms;
      }
      if (static_cast<std::uint64_t>(n) < want) return true;
    }
    // Source mode holds its FIN until the server's (the "backend FIN first" case).
    const bool all_sent = c.writer.position() >= c.to_send;
    if (all_sent && !c.write_shut && (o_.mode != Mode::kSource || c.peer_fin)) {
      ::shutdown(c.fd.get(), SHUT_WR);
      c.write_shut = true;
    }
    return true;
  }

  bool maybeFinish(ClientConn& c) {
    if (!c.peer_fin) return true;
    if (c.record.bytes_received < c.expect) return end(c, EndKind::kFin, 0, Failure::kShort, true);
    // The peer may finish first while this side still sends (duplex, or a FIN with data still
    // flowing the other way): that is no failure until the bytes stop.
    if (!c.write_shut) return true;
    return end(c, EndKind::kFin, 0, Failure::kNone, true);
  }

  // Periodic: paced sends that are due, and deadlines.
  void scan(std::uint64_t now) {
    for (auto it = conns_.begin(); it != conns_.end();) {
      ClientConn& c = *it->second;
      bool alive = true;
      if (!c.record.established) {
        if (now - c.started_ms >= o_.connect_timeout_ms) {
          alive = end(c, EndKind::kTimeout, ETIMEDOUT, Failure::kConnect, false);
        }
      } else {
        if (c.writer.position() < c.to_send && now >= c.next_send_ms) {
          alive = writeDue(c, now) && maybeFinish(c);
        }
        // A paced stream waiting for its next burst is not stalled.
        const std::uint64_t quiet_since = std::max(c.last_progress_ms, c.next_send_ms);
        if (alive && now > quiet_since && now - quiet_since >= o_.stall_ms) {
          alive = end(c, EndKind::kTimeout, 0, Failure::kTimeout, true);
        }
      }
      it = alive ? std::next(it) : conns_.erase(it);
    }
  }

  // Records the end; always false (so callers can `return end(...)`).
  bool end(ClientConn& c, EndKind kind, int error, Failure failure, bool established) {
    c.record.established = established || c.record.established;
    if (failure == Failure::kNone && c.verifier.corrupt()) failure = Failure::kCorrupt;
    c.record.end = kind;
    c.record.error = error;
    c.record.failure = failure;
    const std::uint64_t now = monotonicMs();
    c.record.total_ms = static_cast<double>(now - c.started_ms);
    c.record.ended_at_ms = now;
    summary_.add(c.record);
    if (records_.is_open()) {
      records_ << nlohmann::json{{"id", c.id},
                                 {"failure", failureName(failure)},
                                 {"end", endKindName(kind)},
                                 {"sent", c.record.bytes_sent},
                                 {"received", c.record.bytes_received},
                                 {"started_ms", c.started_ms},
                                 {"ended_ms", now}}
                      .dump()
               << '\n';
    }
    if (kind == EndKind::kTimeout || failure == Failure::kCorrupt) {
      // Our side gives up: an RST, so nothing lingers in FIN_WAIT on a stuck path.
      const linger hard{1, 0};
      if (c.fd) ::setsockopt(c.fd.get(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    }
    c.fd.reset();
    return false;
  }

  const ClientOptions& o_;
  Fd epoll_;
  std::unordered_map<int, std::unique_ptr<ClientConn>> conns_;
  std::uint64_t started_ = 0;
  std::uint64_t peak_open_ = 0;
  Summary summary_;
  std::ofstream records_;
  std::array<std::uint8_t, 65536> buffer_{};
  std::array<std::uint8_t, 65536> out_{};
};

}  // namespace

nlohmann::json runClient(const ClientOptions& options) { return ClientRun(options).run(); }

}  // namespace l4load
