#include "udp_client.h"

#include <sys/epoll.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <memory>
#include <set>
#include <string>
#include <unordered_map>

#include "server.h"
#include "stream.h"
#include "summary.h"

namespace l4load {

namespace {

struct Flow {
  Fd fd;
  std::uint64_t seed = 0;
  std::uint64_t seq = 0;  // the request outstanding (or next)
  std::uint64_t replies = 0;
  std::uint64_t lost = 0;
  std::uint64_t corrupt = 0;
  std::uint64_t started_ms = 0;
  std::uint64_t sent_ms = 0;
  std::uint64_t next_ms = 0;
  bool waiting = false;
  std::set<std::string> backends;
  ConnRecord record;
};

class UdpRun {
 public:
  explicit UdpRun(const UdpClientOptions& o) : o_(o), epoll_(::epoll_create1(EPOLL_CLOEXEC)) {}

  nlohmann::json run() {
    const std::uint64_t begin = monotonicMs();
    const std::uint64_t hard_end =
        begin + o_.duration_ms + o_.requests * (o_.reply_timeout_ms + o_.gap_ms) + 2000;
    while (true) {
      const std::uint64_t now = monotonicMs();
      const bool may_start = started_ < o_.flows && now - begin < o_.duration_ms;
      while (may_start && started_ < o_.flows && flows_.size() < o_.concurrency) start(now);
      if (flows_.empty() && !may_start) break;
      if (now >= hard_end) {
        for (auto& [fd, f] : flows_) finish(*f, Failure::kTimeout);
        flows_.clear();
        break;
      }
      std::array<epoll_event, 256> events;
      const int n = ::epoll_wait(epoll_.get(), events.data(), events.size(), 10);
      for (int i = 0; i < n; ++i) {
        auto it = flows_.find(events[i].data.fd);
        if (it != flows_.end() && !receive(*it->second)) flows_.erase(it);
      }
      const std::uint64_t t = monotonicMs();
      for (auto it = flows_.begin(); it != flows_.end();) {
        it = tick(*it->second, t) ? std::next(it) : flows_.erase(it);
      }
    }
    nlohmann::json out = summary_.toJson();
    out["role"] = "udp-client";
    out["elapsed_ms"] = monotonicMs() - begin;
    out["udp"] = {{"requests", requests_}, {"replies", replies_},
                  {"lost", lost_},         {"wrong_client", wrong_client_},
                  {"corrupt", corrupt_},   {"flows_switched_backend", switched_}};
    return out;
  }

 private:
  void start(std::uint64_t now) {
    const std::uint64_t id = started_++;
    auto f = std::make_unique<Flow>();
    f->seed = o_.seed * 0x100000001b3ULL + id;
    f->started_ms = f->next_ms = now;
    const Address& target = o_.targets[id % o_.targets.size()];
    f->fd = makeSocket(target.family(), SOCK_DGRAM);
    if (!o_.sources.empty()) {
      const Address& s = o_.sources[id % o_.sources.size()];
      ::bind(f->fd.get(), s.get(), s.length);
    }
    if (!f->fd || ::connect(f->fd.get(), target.get(), target.length) != 0) {
      f->record.error = errno;
      finish(*f, Failure::kConnect);
      return;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.fd = f->fd.get();
    ::epoll_ctl(epoll_.get(), EPOLL_CTL_ADD, f->fd.get(), &ev);
    const int key = f->fd.get();
    flows_.emplace(key, std::move(f));
  }

  // Sends the next request when due, counts a lost reply; false when the flow is done.
  bool tick(Flow& f, std::uint64_t now) {
    if (f.waiting && now - f.sent_ms >= o_.reply_timeout_ms) {
      ++f.lost;
      ++lost_;
      f.waiting = false;
      ++f.seq;
      f.next_ms = now;
    }
    if (f.waiting || now < f.next_ms) return true;
    if (f.seq >= o_.requests) return finish(f, flowFailure(f));
    const std::size_t size = Hello::kSize + o_.bytes;
    const auto hello = Hello{Mode::kEcho, f.seed, f.seq}.encode();
    std::copy(hello.begin(), hello.end(), buffer_.begin());
    fillPayload(f, std::span(buffer_.data() + Hello::kSize, o_.bytes));
    if (::send(f.fd.get(), buffer_.data(), size, 0) < 0) {
      f.record.error = errno;
      ++f.lost;
      ++lost_;
      ++f.seq;
      return true;
    }
    f.record.bytes_sent += size;
    ++requests_;
    f.sent_ms = now;
    f.waiting = true;
    return true;
  }

  bool receive(Flow& f) {
    while (true) {
      const ssize_t n = ::recv(f.fd.get(), in_.data(), in_.size(), 0);
      if (n < 0) return true;  // EAGAIN; ECONNREFUSED is a lost reply, counted by the timeout
      f.record.bytes_received += static_cast<std::uint64_t>(n);
      const std::size_t want = Hello::kSize + o_.bytes + kUdpTagSize;
      const auto hello = Hello::decode(std::span(in_.data(), static_cast<std::size_t>(n)));
      if (!hello || hello->seed != f.seed) {
        ++wrong_client_;
        ++f.corrupt;
        continue;
      }
      fillPayload(f, std::span(expected_.data(), o_.bytes));
      if (static_cast<std::size_t>(n) != want || hello->length != f.seq || !f.waiting ||
          !std::equal(in_.begin() + Hello::kSize, in_.begin() + Hello::kSize + o_.bytes,
                      expected_.begin())) {
        // A late reply to a request already counted lost is no corruption.
        if (hello->length < f.seq) continue;
        ++corrupt_;
        ++f.corrupt;
        continue;
      }
      f.backends.emplace(reinterpret_cast<const char*>(in_.data() + n - kUdpTagSize), kUdpTagSize);
      ++f.replies;
      ++replies_;
      f.record.established = true;
      f.waiting = false;
      ++f.seq;
      f.next_ms = monotonicMs() + o_.gap_ms;
    }
  }

  // Request f.seq's payload: the flow's stream from an offset that moves with the sequence.
  static void fillPayload(const Flow& f, std::span<std::uint8_t> out) {
    for (std::size_t i = 0; i < out.size(); ++i) out[i] = streamByte(f.seed, f.seq * 64 + i);
  }

  Failure flowFailure(const Flow& f) const {
    if (f.corrupt > 0) return Failure::kCorrupt;
    if (f.lost > 0) return Failure::kTimeout;
    return Failure::kNone;
  }

  bool finish(Flow& f, Failure failure) {
    if (f.backends.size() > 1) ++switched_;
    f.record.failure = failure;
    f.record.end = failure == Failure::kTimeout ? EndKind::kTimeout : EndKind::kFin;
    f.record.total_ms = static_cast<double>(monotonicMs() - f.started_ms);
    f.record.ended_at_ms = monotonicMs();
    summary_.add(f.record);
    f.fd.reset();
    return false;
  }

  const UdpClientOptions& o_;
  Fd epoll_;
  std::unordered_map<int, std::unique_ptr<Flow>> flows_;
  std::uint64_t started_ = 0;
  std::uint64_t requests_ = 0, replies_ = 0, lost_ = 0, wrong_client_ = 0, corrupt_ = 0,
                switched_ = 0;
  Summary summary_;
  std::array<std::uint8_t, 65536> buffer_{};
  std::array<std::uint8_t, 65536> in_{};
  std::array<std::uint8_t, 65536> expected_{};
};

}  // namespace

nlohmann::json runUdpClient(const UdpClientOptions& options) { return UdpRun(options).run(); }

}  // namespace l4load
