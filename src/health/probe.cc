#include "health/probe.h"

#include <fmt/format.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "health/check_dialogs.h"
#include "health/health_checker.h"
#include "net/socket.h"
#include "proto/printable.h"

namespace l4lb::health {

namespace {

// A conversation that has not decided after this much is not going to: a server greeting, a
// login and a query reply fit in a few KiB; a TLS ServerHello in less.
constexpr std::size_t kMaxReceived = 64 * 1024;

}  // namespace

Probe::Probe(HealthChecker& owner, io::EventLoop& loop, std::uint32_t pool, std::uint32_t backend,
             const config::PoolConfig& pool_config)
    : owner_(owner),
      loop_(loop),
      pool_(pool),
      backend_(backend),
      config_(*pool_config.health),
      backend_config_(pool_config.backends[backend]),
      source_(pool_config.source.kind == config::SourceKind::kAddress ? pool_config.source.address
                                                                      : net::LocalSource{}),
      counter_(config_.rise, config_.fall) {}

Probe::~Probe() {
  loop_.timers().cancel(this);
  if (fd_) loop_.remove(fd_.get());
}

void Probe::start(std::int64_t at) { loop_.timers().schedule(this, at); }

void Probe::onTimer() {
  if (phase_ == Phase::kIdle) {
    begin();
    return;
  }
  finish(false, fmt::format("timed out after {} ms{}", config_.timeout.count(),
                            phase_ == Phase::kConnecting ? " connecting"
                            : received_ == 0             ? " waiting for a reply"
                                                         : " reading the reply"));
}

void Probe::begin() {
  outgoing_.clear();
  sent_ = 0;
  received_ = 0;
  dialog_ = makeCheckDialog(config_, backend_config_);
  phase_ = Phase::kConnecting;  // also when connecting fails at once: finish() schedules the next
  auto connected = net::connectStream(backend_config_.address, source_);
  if (!connected) {
    finish(false, fmt::format("connect: {}", std::strerror(connected.error().code)));
    return;
  }
  fd_ = std::move(connected.value());
  auto added = loop_.add(fd_.get(), EPOLLOUT, this);
  if (!added) {
    finish(false, added.error().message());
    return;
  }
  loop_.timers().schedule(this, loop_.now() + config_.timeout.count());
}

void Probe::onEvents(std::uint32_t events) {
  if (!fd_) return;
  if (phase_ == Phase::kConnecting) {
    int error = 0;
    if ((events & (EPOLLERR | EPOLLHUP)) != 0) {
      error = net::socketError(fd_.get());
      if (error == 0) error = ECONNREFUSED;
    }
    if (error != 0) {
      finish(false, fmt::format("connect: {}", std::strerror(error)));
      return;
    }
    onConnected();
    return;
  }
  if ((events & EPOLLOUT) != 0 && sent_ < outgoing_.size()) {
    sendPending();
    if (!fd_) return;
  }
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) readReply();
}

void Probe::onConnected() {
  if (!dialog_) {
    finish(true, "connected");
    return;
  }
  phase_ = Phase::kExchanging;
  send(dialog_->opening());
}

void Probe::send(std::string bytes) {
  if (sent_ == outgoing_.size()) {
    outgoing_ = std::move(bytes);
    sent_ = 0;
  } else {
    outgoing_ += bytes;
  }
  sendPending();
}

void Probe::sendPending() {
  while (sent_ < outgoing_.size()) {
    ssize_t n = ::send(fd_.get(), outgoing_.data() + sent_, outgoing_.size() - sent_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      finish(false, fmt::format("send: {}", std::strerror(errno)));
      return;
    }
    sent_ += static_cast<std::size_t>(n);
  }
  const std::uint32_t events = EPOLLIN | EPOLLRDHUP | (sent_ < outgoing_.size() ? EPOLLOUT : 0U);
  auto modified = loop_.modify(fd_.get(), events, this);
  if (!modified) finish(false, modified.error().message());
}

void Probe::readReply() {
  char buffer[4096];
  while (fd_) {
    ssize_t n = ::recv(fd_.get(), buffer, sizeof(buffer), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      finish(false, fmt::format("recv: {}", std::strerror(errno)));
      return;
    }
    if (n == 0) {
      finish(false, received_ == 0
                        ? std::string("closed without replying")
                        : fmt::format("closed after {} bytes of an incomplete reply", received_));
      return;
    }
    received_ += static_cast<std::size_t>(n);
    proto::DialogStep step =
        dialog_->onReceived(std::string_view(buffer, static_cast<std::size_t>(n)));
    if (step.verdict.status != proto::CheckStatus::kNeedMore) {
      finish(step.verdict.status == proto::CheckStatus::kUp, std::move(step.verdict.reason));
      return;
    }
    if (received_ >= kMaxReceived) {
      finish(false, fmt::format("no verdict after {} bytes", received_));
      return;
    }
    if (!step.send.empty()) send(std::move(step.send));
  }
}

void Probe::finish(bool up, std::string reason) {
  // The one way out of a check: what a server sent (an echo of AUTH, say) loses the password
  // here, before the log, the API or the check history see it.
  reason = proto::redactSecret(std::move(reason), config_.password);
  if (fd_) {
    if (dialog_) {
      // A session the server granted is ended the way a client would end it.
      const std::string bye = dialog_->farewell();
      if (!bye.empty())
        (void)!::send(fd_.get(), bye.data(), bye.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    loop_.remove(fd_.get());
    fd_.reset();
  }
  const std::int64_t not_after = dialog_ ? dialog_->certificateNotAfter() : 0;
  dialog_.reset();
  outgoing_.clear();
  phase_ = Phase::kIdle;
  loop_.timers().cancel(this);
  const control::BackendState before = counter_.state();
  owner_.onChecked(pool_, backend_, up, reason, not_after);
  if (counter_.record(up)) owner_.onStateChange(pool_, backend_, before, counter_.state(), reason);
  loop_.timers().schedule(this, loop_.now() + owner_.jitteredInterval(config_.interval));
}

}  // namespace l4lb::health
