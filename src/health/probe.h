#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/fd.h"
#include "config/config.h"
#include "health/health_state.h"
#include "io/event_loop.h"
#include "io/timer_queue.h"
#include "proto/check_dialog.h"

namespace l4lb::health {

class HealthChecker;

// The active check of one backend of one pool: every interval (with jitter) a non-blocking
// connect, then the check's conversation (a proto::CheckDialog: the protocol lives there, the
// I/O here) until the dialog decides or the timeout hits. Lives on the health thread.
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

  [[nodiscard]] control::BackendState state() const { return counter_.state(); }
  void seed(control::BackendState state) { counter_.seed(state); }

 private:
  enum class Phase : std::uint8_t { kIdle, kConnecting, kExchanging };

  void begin();
  void onConnected();
  void send(std::string bytes);
  void sendPending();
  void readReply();
  void finish(bool up, std::string reason);

  HealthChecker& owner_;
  io::EventLoop& loop_;
  std::uint32_t pool_;
  std::uint32_t backend_;
  const config::HealthConfig& config_;
  const config::BackendConfig& backend_config_;
  // Checks leave from the pool's fixed source address, as its connections do, so a backend that
  // admits that address only is checked as it is used. (With source = "client" there is no
  // client: checks leave from this host's own address.)
  net::LocalSource source_;
  RiseFallCounter counter_;
  base::Fd fd_;
  Phase phase_ = Phase::kIdle;
  std::unique_ptr<proto::CheckDialog> dialog_;  // this check's conversation; none for tcp
  std::string outgoing_;                        // what the dialog asked to send, not yet sent
  std::size_t sent_ = 0;
  std::size_t received_ = 0;
};

}  // namespace l4lb::health
