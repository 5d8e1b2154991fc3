#include "health/probe.h"

#include <fmt/format.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "health/health_checker.h"
#include "net/socket.h"

namespace l4lb::health {

namespace {

// Host header when none is configured: the backend's address as written, without the scheme.
std::string defaultHost(const net::Endpoint& endpoint) {
  if (endpoint.kind != net::EndpointKind::kTcp) return "localhost";
  std::string_view url = endpoint.url;
  if (auto scheme = url.find("://"); scheme != std::string_view::npos)
    url.remove_prefix(scheme + 3);
  return std::string(url);
}

std::string buildRequest(const config::HealthConfig& health, const net::Endpoint& address) {
  switch (health.check) {
    case config::CheckKind::kTcp:
    case config::CheckKind::kMysql: return {};
    case config::CheckKind::kSendExpect: return health.send;
    case config::CheckKind::kRedis: return proto::redisRequest(health.password, health.role);
    case config::CheckKind::kMemcached: return proto::memcachedRequest();
    case config::CheckKind::kHttp:
      return proto::httpRequest(health.path,
                                health.host.empty() ? defaultHost(address) : health.host);
    case config::CheckKind::kPgsql: return proto::pgsqlStartup(health.user, health.database);
  }
  return {};
}

}  // namespace

Probe::Probe(HealthChecker& owner, io::EventLoop& loop, std::uint32_t pool, std::uint32_t backend,
             const config::PoolConfig& pool_config)
    : owner_(owner),
      loop_(loop),
      pool_(pool),
      backend_(backend),
      config_(*pool_config.health),
      backend_config_(pool_config.backends[backend]),
      first_request_(buildRequest(config_, backend_config_.address)),
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
                            : reply_.empty()             ? " waiting for a reply"
                                                         : " reading the reply"));
}

void Probe::begin() {
  sent_ = 0;
  step_ = 0;
  request_ = first_request_;
  reply_.clear();
  auto connected = net::connectStream(backend_config_.address);
  if (!connected) {
    phase_ = Phase::kConnecting;  // so finish() schedules the next check
    finish(false, fmt::format("connect: {}", std::strerror(connected.error().code)));
    return;
  }
  fd_ = std::move(connected.value());
  auto added = loop_.add(fd_.get(), EPOLLOUT, this);
  if (!added) {
    phase_ = Phase::kConnecting;
    finish(false, added.error().message());
    return;
  }
  phase_ = Phase::kConnecting;
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
  if ((events & EPOLLOUT) != 0 && sent_ < request_.size()) {
    sendPending();
    if (!fd_) return;
  }
  if ((events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0) readReply();
}

void Probe::onConnected() {
  if (config_.check == config::CheckKind::kTcp) {
    finish(true, "connected");
    return;
  }
  phase_ = Phase::kExchanging;
  sendPending();
}

void Probe::sendPending() {
  while (sent_ < request_.size()) {
    ssize_t n = ::send(fd_.get(), request_.data() + sent_, request_.size() - sent_, MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      finish(false, fmt::format("send: {}", std::strerror(errno)));
      return;
    }
    sent_ += static_cast<std::size_t>(n);
  }
  const std::uint32_t events = EPOLLIN | EPOLLRDHUP | (sent_ < request_.size() ? EPOLLOUT : 0U);
  auto modified = loop_.modify(fd_.get(), events, this);
  if (!modified) finish(false, modified.error().message());
}

proto::CheckVerdict Probe::evaluate() const {
  switch (config_.check) {
    case config::CheckKind::kTcp: return proto::CheckVerdict::up("connected");
    case config::CheckKind::kSendExpect: return proto::parseExpectReply(reply_, config_.expect);
    case config::CheckKind::kRedis:
      return proto::parseRedisReply(reply_, !config_.password.empty(), config_.role);
    case config::CheckKind::kMemcached: return proto::parseMemcachedReply(reply_);
    case config::CheckKind::kHttp:
      return proto::parseHttpReply(reply_, static_cast<int>(config_.min_status),
                                   static_cast<int>(config_.max_status));
    case config::CheckKind::kMysql:
      return step_ == 0 ? proto::parseMysqlGreeting(reply_) : proto::parseMysqlLoginReply(reply_);
    case config::CheckKind::kPgsql: return proto::parsePgsqlReply(reply_);
  }
  return proto::CheckVerdict::down("unknown check");
}

void Probe::readReply() {
  char buffer[1024];
  while (true) {
    ssize_t n = ::recv(fd_.get(), buffer, sizeof(buffer), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      finish(false, fmt::format("recv: {}", std::strerror(errno)));
      return;
    }
    if (n == 0) {
      finish(false, reply_.empty() ? std::string("closed without replying")
                                   : fmt::format("closed after {} bytes of an incomplete reply",
                                                 reply_.size()));
      return;
    }
    reply_.append(buffer, static_cast<std::size_t>(n));
    proto::CheckVerdict verdict = evaluate();
    if (verdict.status == proto::CheckStatus::kNeedMore && reply_.size() >= proto::kMaxCheckReply) {
      verdict = proto::CheckVerdict::down("reply too long without a verdict");
    }
    if (config_.check == config::CheckKind::kMysql && !config_.user.empty() &&
        continueMysqlLogin(verdict)) {
      return;
    }
    if (verdict.status != proto::CheckStatus::kNeedMore) {
      finish(verdict.status == proto::CheckStatus::kUp, std::move(verdict.reason));
      return;
    }
  }
}

bool Probe::continueMysqlLogin(const proto::CheckVerdict& verdict) {
  std::string next;
  if (step_ == 0) {
    if (verdict.status != proto::CheckStatus::kUp || reply_.size() < 4) return false;
    // The login answers the whole greeting packet, which may still be arriving.
    const std::size_t length = std::size_t{static_cast<unsigned char>(reply_[0])} |
                               (std::size_t{static_cast<unsigned char>(reply_[1])} << 8) |
                               (std::size_t{static_cast<unsigned char>(reply_[2])} << 16);
    if (reply_.size() < 4 + length) return true;  // read on
    reply_.erase(0, 4 + length);
    next = proto::mysqlLogin(config_.user);
  } else if (auto answer = proto::mysqlAuthSwitch(reply_); answer && step_ == 1) {
    reply_.clear();
    next = std::move(*answer);
  } else {
    return false;
  }
  ++step_;
  request_ = std::move(next);
  sent_ = 0;
  sendPending();
  return true;
}

void Probe::finish(bool up, std::string reason) {
  if (fd_) {
    // A session the server granted is ended the way a client would end it.
    if (up && config_.check == config::CheckKind::kPgsql && proto::pgsqlAuthenticated(reply_)) {
      const std::string bye = proto::pgsqlTerminate();
      (void)!::send(fd_.get(), bye.data(), bye.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    if (up && config_.check == config::CheckKind::kMysql && step_ > 0) {
      const std::string quit = proto::mysqlQuit();
      (void)!::send(fd_.get(), quit.data(), quit.size(), MSG_NOSIGNAL | MSG_DONTWAIT);
    }
    loop_.remove(fd_.get());
    fd_.reset();
  }
  phase_ = Phase::kIdle;
  reply_.clear();
  loop_.timers().cancel(this);
  const BackendState before = counter_.state();
  if (counter_.record(up)) owner_.onStateChange(pool_, backend_, before, counter_.state(), reason);
  loop_.timers().schedule(this, loop_.now() + owner_.jitteredInterval(config_.interval));
}

}  // namespace l4lb::health
