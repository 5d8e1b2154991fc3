#include "server.h"

#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <memory>
#include <unordered_map>

#include "stream.h"
#include "summary.h"

namespace l4load {

namespace {

struct ServerConn {
  Fd fd;
  std::uint64_t accepted_ms = 0;
  std::uint64_t last_progress_ms = 0;
  std::array<std::uint8_t, Hello::kSize> hello_bytes{};
  std::size_t hello_have = 0;
  std::optional<Hello> hello;
  std::optional<StreamVerifier> verifier;  // the client's payload
  std::optional<StreamWriter> writer;      // source and duplex
  std::string echo;                        // received, not yet sent back
  bool peer_fin = false;
  bool write_shut = false;
  ConnRecord record;
};

class ServerRun {
 public:
  explicit ServerRun(const ServerOptions& o) : o_(o), epoll_(::epoll_create1(EPOLL_CLOEXEC)) {}

  int run() {
    sigset_t mask;
    sigemptyset(&mask);
    for (int s : {SIGTERM, SIGINT, SIGUSR1}) sigaddset(&mask, s);
    ::sigprocmask(SIG_BLOCK, &mask, nullptr);
    signals_ = Fd(::signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC));
    watch(signals_.get(), EPOLLIN);
    for (const Address& a : o_.listen) {
      if (!listenOn(a, SOCK_STREAM)) return 1;
    }
    for (const Address& a : o_.listen_udp) {
      if (!listenOn(a, SOCK_DGRAM)) return 1;
    }
    std::fprintf(stderr, "l4load server %s ready\n", o_.id.c_str());
    const std::uint64_t begin = monotonicMs();
    std::uint64_t last_scan = begin;
    while (!stop_ && monotonicMs() - begin < o_.duration_ms) {
      std::array<epoll_event, 256> events;
      const int n = ::epoll_wait(epoll_.get(), events.data(), events.size(), 100);
      for (int i = 0; i < n; ++i) dispatch(events[i].data.fd, events[i].events);
      if (monotonicMs() - last_scan >= 100) {
        last_scan = monotonicMs();
        expireIdle(last_scan);
      }
    }
    writeSummary();
    return 0;
  }

 private:
  void watch(int fd, std::uint32_t events) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, fd, &ev);
  }

  bool listenOn(const Address& a, int type) {
    Fd fd = makeSocket(a.family(), type);
    const int one = 1;
    ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(fd.get(), a.get(), a.length) != 0 ||
        (type == SOCK_STREAM && ::listen(fd.get(), 4096) != 0)) {
      std::fprintf(stderr, "l4load server: cannot listen on %s: %s\n", formatAddress(a).c_str(),
                   std::strerror(errno));
      return false;
    }
    watch(fd.get(), EPOLLIN);
    (type == SOCK_STREAM ? listeners_ : udp_).push_back(std::move(fd));
    return true;
  }

  void dispatch(int fd, std::uint32_t events) {
    if (fd == signals_.get()) return onSignal();
    for (const Fd& l : listeners_) {
      if (l.get() == fd) return acceptAll(fd);
    }
    for (const Fd& u : udp_) {
      if (u.get() == fd) return echoDatagrams(fd);
    }
    auto it = conns_.find(fd);
    if (it == conns_.end()) return;
    (void)events;
    if (!step(*it->second)) conns_.erase(it);
  }

  void onSignal() {
    signalfd_siginfo info;
    while (::read(signals_.get(), &info, sizeof info) == sizeof info) {
      if (info.ssi_signo == SIGUSR1) {
        writeSummary();
      } else {
        stop_ = true;
      }
    }
  }

  void acceptAll(int listener) {
    // Bounded per event so a flood cannot starve the connections already open.
    for (int i = 0; i < 512; ++i) {
      Fd fd(::accept4(listener, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC));
      if (!fd) {
        if (errno == EMFILE || errno == ENFILE) ++accept_errors_;
        return;
      }
      auto c = std::make_unique<ServerConn>();
      c->accepted_ms = c->last_progress_ms = monotonicMs();
      c->record.established = true;
      c->fd = std::move(fd);
      watch(c->fd.get(), EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
      const int key = c->fd.get();
      conns_.emplace(key, std::move(c));
      peak_open_ = std::max<std::uint64_t>(peak_open_, conns_.size());
    }
  }

  bool step(ServerConn& c) {
    if (!readAll(c)) return false;
    if (!writeAll(c)) return false;
    if (c.peer_fin && !c.hello) {
      // Opened and closed with no hello: a health check's probe, not a transfer.
      ++probes_;
      c.fd.reset();
      return false;
    }
    if (c.peer_fin && c.write_shut) {
      const std::uint64_t want = c.hello && c.hello->mode != Mode::kSource ? c.hello->length : 0;
      const std::uint64_t got = c.verifier ? c.verifier->received() : 0;
      return end(c, EndKind::kFin, 0, !c.hello || got < want ? Failure::kShort : Failure::kNone);
    }
    return true;
  }

  bool readAll(ServerConn& c) {
    while (!c.peer_fin && c.echo.size() < o_.echo_buffer) {
      const ssize_t n = ::recv(c.fd.get(), buffer_.data(), buffer_.size(), 0);
      if (n < 0) {
        if (errno == EAGAIN) return true;
        if (errno == EINTR) continue;
        return endOnError(c, errno);
      }
      c.last_progress_ms = monotonicMs();
      if (n == 0) {
        c.peer_fin = true;
        break;
      }
      c.record.bytes_received += static_cast<std::uint64_t>(n);
      std::span<const std::uint8_t> data(buffer_.data(), static_cast<std::size_t>(n));
      if (!c.hello) {
        const std::size_t take = std::min(data.size(), Hello::kSize - c.hello_have);
        std::copy_n(data.begin(), take, c.hello_bytes.begin() + c.hello_have);
        c.hello_have += take;
        data = data.subspan(take);
        if (c.hello_have < Hello::kSize) continue;
        c.hello = Hello::decode(c.hello_bytes);
        if (!c.hello) return end(c, EndKind::kErrno, 0, Failure::kCorrupt);
        c.verifier.emplace(c.hello->seed);
        if (c.hello->mode == Mode::kSource || c.hello->mode == Mode::kDuplex) {
          c.writer.emplace(c.hello->seed ^ kServerSalt);
        }
      }
      if (data.empty()) continue;
      if (c.hello->mode == Mode::kSource || !c.verifier->consume(data) ||
          c.verifier->received() > c.hello->length) {
        return end(c, EndKind::kErrno, 0, Failure::kCorrupt);
      }
      if (c.hello->mode == Mode::kEcho) c.echo.append(data.begin(), data.end());
    }
    return true;
  }

  bool writeAll(ServerConn& c) {
    if (!c.hello) return true;
    while (!c.echo.empty()) {
      const ssize_t n = ::send(c.fd.get(), c.echo.data(), c.echo.size(), MSG_NOSIGNAL);
      if (n < 0) return errno == EAGAIN ? true : endOnError(c, errno);
      c.record.bytes_sent += static_cast<std::uint64_t>(n);
      c.last_progress_ms = monotonicMs();
      c.echo.erase(0, static_cast<std::size_t>(n));
      // Room again: what the edge-triggered read left in the socket.
      if (c.echo.size() < o_.echo_buffer && !c.peer_fin && !readAll(c)) return false;
    }
    if (c.writer) {
      while (c.writer->position() < c.hello->length) {
        const std::size_t want =
            std::min<std::uint64_t>(out_.size(), c.hello->length - c.writer->position());
        c.writer->fill(std::span(out_.data(), want));
        const ssize_t n = ::send(c.fd.get(), out_.data(), want, MSG_NOSIGNAL);
        if (n < 0) {
          c.writer->rewind(want);
          return errno == EAGAIN ? true : endOnError(c, errno);
        }
        c.writer->rewind(want - static_cast<std::size_t>(n));
        c.record.bytes_sent += static_cast<std::uint64_t>(n);
        c.last_progress_ms = monotonicMs();
      }
    }
    // FIN: source and duplex when their stream is out; echo and sink after the client's FIN.
    const bool ours_done = c.writer ? c.writer->position() >= c.hello->length : c.peer_fin;
    if (ours_done && c.echo.empty() && !c.write_shut) {
      ::shutdown(c.fd.get(), SHUT_WR);
      c.write_shut = true;
    }
    return true;
  }

  bool endOnError(ServerConn& c, int error) {
    if (!c.hello) {  // reset before a hello: a probe too (HAProxy's checks end with an RST)
      ++probes_;
      c.fd.reset();
      return false;
    }
    if (error == ECONNRESET || error == EPIPE) return end(c, EndKind::kRst, 0, Failure::kReset);
    return end(c, EndKind::kErrno, error, Failure::kError);
  }

  void expireIdle(std::uint64_t now) {
    for (auto it = conns_.begin(); it != conns_.end();) {
      ServerConn& c = *it->second;
      const bool alive = now - c.last_progress_ms < o_.idle_timeout_ms ||
                         end(c, EndKind::kTimeout, 0, Failure::kTimeout);
      it = alive ? std::next(it) : conns_.erase(it);
    }
  }

  bool end(ServerConn& c, EndKind kind, int error, Failure failure) {
    if (failure == Failure::kNone && c.verifier && c.verifier->corrupt()) {
      failure = Failure::kCorrupt;
    }
    c.record.end = kind;
    c.record.error = error;
    c.record.failure = failure;
    c.record.total_ms = static_cast<double>(monotonicMs() - c.accepted_ms);
    c.record.ended_at_ms = monotonicMs();
    summary_.add(c.record);
    if (c.hello) ++modes_[std::string(modeName(c.hello->mode))];
    if (kind == EndKind::kTimeout || failure == Failure::kCorrupt) {
      const linger hard{1, 0};
      ::setsockopt(c.fd.get(), SOL_SOCKET, SO_LINGER, &hard, sizeof hard);
    }
    c.fd.reset();
    return false;
  }

  void echoDatagrams(int fd) {
    for (int i = 0; i < 512; ++i) {
      sockaddr_storage peer{};
      socklen_t peer_len = sizeof peer;
      const ssize_t n = ::recvfrom(fd, buffer_.data(), buffer_.size() - kUdpTagSize, 0,
                                   reinterpret_cast<sockaddr*>(&peer), &peer_len);
      if (n < 0) return;
      ++datagrams_received_;
      std::array<char, kUdpTagSize> tag{};
      std::copy_n(o_.id.begin(), std::min(o_.id.size(), tag.size()), tag.begin());
      std::copy(tag.begin(), tag.end(), buffer_.begin() + n);
      if (::sendto(fd, buffer_.data(), static_cast<std::size_t>(n) + kUdpTagSize, 0,
                   reinterpret_cast<sockaddr*>(&peer), peer_len) > 0) {
        ++datagrams_sent_;
      }
    }
  }

  void writeSummary() {
    nlohmann::json out = summary_.toJson();
    out["role"] = "server";
    out["id"] = o_.id;
    out["open"] = conns_.size();
    out["peak_open"] = peak_open_;
    out["accept_errors"] = accept_errors_;
    out["probes"] = probes_;
    out["modes"] = modes_;
    out["udp"] = {{"received", datagrams_received_}, {"sent", datagrams_sent_}};
    if (o_.summary_path.empty()) {
      std::printf("%s\n", out.dump().c_str());
      std::fflush(stdout);
      return;
    }
    const std::string tmp = o_.summary_path + ".tmp";
    std::ofstream(tmp) << out.dump() << '\n';
    std::rename(tmp.c_str(), o_.summary_path.c_str());
  }

  const ServerOptions& o_;
  Fd epoll_;
  Fd signals_;
  std::vector<Fd> listeners_;
  std::vector<Fd> udp_;
  std::unordered_map<int, std::unique_ptr<ServerConn>> conns_;
  Summary summary_;
  std::map<std::string, std::uint64_t> modes_;
  std::uint64_t peak_open_ = 0;
  std::uint64_t accept_errors_ = 0;
  std::uint64_t probes_ = 0;  // connections closed before a hello (health checks)
  std::uint64_t datagrams_received_ = 0;
  std::uint64_t datagrams_sent_ = 0;
  bool stop_ = false;
  std::array<std::uint8_t, 65536> buffer_{};
  std::array<std::uint8_t, 65536> out_{};
};

}  // namespace

int runServer(const ServerOptions& options) { return ServerRun(options).run(); }

}  // namespace l4load
