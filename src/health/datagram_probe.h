#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/fd.h"
#include "config/config.h"
#include "health/health_state.h"
#include "io/event_loop.h"
#include "io/timer_queue.h"
#include "proto/datagram_dialog.h"

namespace l4lb::health {

class HealthChecker;

// The active check of one backend of a datagram pool (check = "dns" or "udp"): every interval
// (with jitter) one datagram from a fresh connected socket, and the first datagram that comes
// back judged by the check's proto::DatagramDialog, or silence until the timeout. A fresh socket
// per check means a fresh source port, so a late reply to an earlier check never reaches this
// one. Being connected, the socket hears the ICMP port unreachable of a stopped server as
// ECONNREFUSED (and, with IP_RECVERR, a host unreachable as EHOSTUNREACH): down at once, not at
// the timeout. Lives on the health thread, beside the stream pools' Probes.
//
// Phases: idle (timer = next check) -> waiting for the reply (timer = timeout) -> idle.
class DatagramProbe final : public io::Timer, public io::EventHandler {
 public:
  DatagramProbe(HealthChecker& owner, io::EventLoop& loop, std::uint32_t pool,
                std::uint32_t backend, const config::PoolConfig& pool_config);
  ~DatagramProbe() override;

  void start(std::int64_t at);
  void onTimer() override;
  void onEvents(std::uint32_t events) override;

  [[nodiscard]] control::BackendState state() const { return counter_.state(); }
  void seed(control::BackendState state) { counter_.seed(state); }

 private:
  void begin();
  void readReply();
  void finish(bool up, std::string reason);
  void finish(const proto::CheckVerdict& verdict);
  [[nodiscard]] std::uint16_t nextId();
  [[nodiscard]] std::unique_ptr<proto::DatagramDialog> makeDialog();

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
  std::string wire_name_;  // config_.dns_name encoded once
  RiseFallCounter counter_;
  base::Fd fd_;  // open while a check is out
  std::unique_ptr<proto::DatagramDialog> dialog_;
  std::uint64_t random_state_;
};

}  // namespace l4lb::health
