#pragma once

#include <cstdint>
#include <string>

#include "base/fd.h"
#include "config/config.h"
#include "health/health_state.h"
#include "io/event_loop.h"
#include "io/timer_queue.h"
#include "proto/check_reply.h"

namespace l4lb::health {

class HealthChecker;

// The active check of one backend of one pool: every interval (with jitter) a non-blocking
// connect, the check's request, and its reply read until the parser decides or the timeout
// hits. Lives on the health thread.
//
// Phases: idle (timer = next check) -> connecting -> exchanging (timer = timeout) -> idle.
class Probe final : public io::Timer, public io::EventHandler {
 public:
  Probe(HealthChecker& owner, io::EventLoop& loop, std::uint32_t pool, std::uint32_t backend,
        const config::PoolConfig& pool_config);
  ~Probe() override;

  void start(std::int64_t at);
  void onTimer() override;
  void onEvents(std::uint32_t events) override;

  [[nodiscard]] BackendState state() const { return counter_.state(); }

 private:
  enum class Phase : std::uint8_t { kIdle, kConnecting, kExchanging };

  void begin();
  void onConnected();
  void sendPending();
  void readReply();
  void finish(bool up, std::string reason);
  // mysql with a user: moves the login on after a reply. True when it sent something.
  [[nodiscard]] bool continueMysqlLogin(const proto::CheckVerdict& verdict);
  [[nodiscard]] proto::CheckVerdict evaluate() const;

  HealthChecker& owner_;
  io::EventLoop& loop_;
  std::uint32_t pool_;
  std::uint32_t backend_;
  const config::HealthConfig& config_;
  const config::BackendConfig& backend_config_;
  const std::string first_request_;
  std::string request_;    // what is being sent now (a login may send more after the reply)
  std::uint8_t step_ = 0;  // mysql login: 0 greeting, 1 login sent, 2 auth switch answered
  RiseFallCounter counter_;
  base::Fd fd_;
  Phase phase_ = Phase::kIdle;
  std::size_t sent_ = 0;
  std::string reply_;
};

}  // namespace l4lb::health
