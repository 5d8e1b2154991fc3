#pragma once

#include <cstdint>
#include <string>

#include "base/fd.h"
#include "config/config.h"
#include "io/event_loop.h"
#include "io/timer_queue.h"
#include "proto/agent_reply.h"

namespace l4lb::health {

class HealthChecker;

// The agent check of one backend (the pool's `agent` table, HAProxy's agent-check): every
// interval (with jitter) a TCP connection to the backend's agent, `send` if set, and the first
// line it answers (up to a line end or its close), parsed by proto::parseAgentReply and handed
// to the checker. An agent that cannot be reached or answers nothing usable changes nothing:
// the backend's own checks judge whether it is up (as in HAProxy). Lives on the health thread;
// it is not paused when the backend is disabled, so that the agent's "ready" can end a "maint".
//
// Phases: idle (timer = next ask) -> connecting -> reading (timer = timeout) -> idle.
class AgentProbe final : public io::Timer, public io::EventHandler {
 public:
  AgentProbe(HealthChecker& owner, io::EventLoop& loop, std::uint32_t pool, std::uint32_t backend,
             const config::PoolConfig& pool_config);
  ~AgentProbe() override;

  void start(std::int64_t at);
  void onTimer() override;
  void onEvents(std::uint32_t events) override;

 private:
  void begin();
  void read();
  void fail(std::string reason);
  void finish();

  HealthChecker& owner_;
  io::EventLoop& loop_;
  std::uint32_t pool_;
  std::uint32_t backend_;
  const config::AgentConfig& config_;
  const net::Endpoint& agent_;
  base::Fd fd_;
  bool connecting_ = false;
  std::string received_;
};

}  // namespace l4lb::health
