#include "health/agent_probe.h"

#include <fmt/format.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>

#include "health/health_checker.h"
#include "net/socket.h"

namespace l4lb::health {

AgentProbe::AgentProbe(HealthChecker& owner, io::EventLoop& loop, std::uint32_t pool,
                       std::uint32_t backend, const config::PoolConfig& pool_config)
    : owner_(owner),
      loop_(loop),
      pool_(pool),
      backend_(backend),
      config_(*pool_config.agent),
      agent_(*pool_config.backends[backend].agent) {}

AgentProbe::~AgentProbe() {
  loop_.timers().cancel(this);
  if (fd_) loop_.remove(fd_.get());
}

void AgentProbe::start(std::int64_t at) { loop_.timers().schedule(this, at); }

void AgentProbe::onTimer() {
  if (!fd_) {
    begin();
    return;
  }
  fail(fmt::format("timed out after {} ms{}", config_.timeout.count(),
                   connecting_ ? " connecting" : " waiting for a line"));
}

void AgentProbe::begin() {
  received_.clear();
  auto connected = net::connectStream(agent_);
  if (!connected) {
    fail(fmt::format("connect: {}", std::strerror(connected.error().code)));
    return;
  }
  fd_ = std::move(connected.value());
  connecting_ = true;
  auto added = loop_.add(fd_.get(), EPOLLOUT | EPOLLIN, this);
  if (!added) {
    fail(added.error().message());
    return;
  }
  loop_.timers().schedule(this, loop_.now() + config_.timeout.count());
}

void AgentProbe::onEvents(std::uint32_t events) {
  if (!fd_) return;
  if (connecting_) {
    int error = 0;
    if ((events & (EPOLLERR | EPOLLHUP)) != 0) {
      error = net::socketError(fd_.get());
      if (error == 0) error = ECONNREFUSED;
    }
    if (error != 0) {
      fail(fmt::format("connect: {}", std::strerror(error)));
      return;
    }
    if ((events & EPOLLOUT) == 0) return;
    connecting_ = false;
    // agent-send: one short string, which a fresh socket's buffer takes whole.
    if (!config_.send.empty() &&
        ::send(fd_.get(), config_.send.data(), config_.send.size(), MSG_NOSIGNAL) !=
            static_cast<ssize_t>(config_.send.size())) {
      fail(fmt::format("send: {}", std::strerror(errno)));
      return;
    }
    if (auto modified = loop_.modify(fd_.get(), EPOLLIN, this); !modified) {
      fail(modified.error().message());
      return;
    }
  }
  read();
}

void AgentProbe::read() {
  char buffer[proto::kMaxAgentReply];
  while (true) {
    const ssize_t n = ::recv(fd_.get(), buffer, sizeof(buffer), 0);
    if (n < 0) {
      if (errno == EINTR) continue;
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      fail(fmt::format("recv: {}", std::strerror(errno)));
      return;
    }
    const bool eof = n == 0;
    received_.append(buffer, static_cast<std::size_t>(n));
    auto line = proto::agentLine(received_, eof);
    if (!line && received_.size() >= proto::kMaxAgentReply) {
      fail(fmt::format("no line end in the first {} bytes", proto::kMaxAgentReply));
      return;
    }
    if (!line) continue;
    auto report = proto::parseAgentReply(*line);
    if (!report) {
      fail(report.error().message());
      return;
    }
    owner_.onAgentReport(pool_, backend_, report.value());
    finish();
    return;
  }
}

void AgentProbe::fail(std::string reason) {
  owner_.onAgentFailure(pool_, backend_, reason);
  finish();
}

void AgentProbe::finish() {
  if (fd_) {
    loop_.remove(fd_.get());
    fd_.reset();
  }
  connecting_ = false;
  loop_.timers().cancel(this);
  loop_.timers().schedule(this, loop_.now() + owner_.jitteredInterval(config_.interval));
}

}  // namespace l4lb::health
