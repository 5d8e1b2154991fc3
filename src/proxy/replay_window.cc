#include "proxy/replay_window.h"

namespace l4lb::proxy {

namespace {

// The protocol the pool's health check speaks: it tells a refusal, and PostgreSQL's SSLRequest
// answers (which do not end the retry window), from a real first answer.
proto::GreetingProtocol greetingOf(const config::PoolConfig& pool) {
  if (!pool.health) return proto::GreetingProtocol::kNone;
  switch (pool.health->check) {
    case config::CheckKind::kMysql: return proto::GreetingProtocol::kMysql;
    case config::CheckKind::kPgsql: return proto::GreetingProtocol::kPgsql;
    case config::CheckKind::kRedis: return proto::GreetingProtocol::kRedis;
    default: return proto::GreetingProtocol::kNone;
  }
}

}  // namespace

bool ReplayWindow::open(const config::PoolConfig& pool) {
  empty_response_ = (pool.retry_on & config::kRetryEmptyResponse) != 0;
  refused_greeting_ = (pool.retry_on & config::kRetryRefusedGreeting) != 0;
  greeting_ = greetingOf(pool);
  return empty_response_ || refused_greeting_;
}

ReplayWindow::Answer ReplayWindow::judge(std::span<const std::uint8_t> bytes) {
  const auto verdict = proto::classifyFirstReply(greeting_, bytes);
  if (verdict == proto::FirstReply::kNegotiation) {
    if (negotiations_to_skip_ > 0) {
      --negotiations_to_skip_;
      return Answer::kRepeated;
    }
    ++negotiations_seen_;
    return Answer::kNegotiation;
  }
  if (negotiations_to_skip_ > 0) return Answer::kMismatch;
  if (verdict == proto::FirstReply::kRefused && refused_greeting_) return Answer::kRefused;
  return Answer::kFinal;
}

std::uint32_t ReplayWindow::sendLimit(std::uint16_t header_bytes) const {
  if (negotiations_to_skip_ == 0) return 0;
  constexpr std::uint32_t kNegotiationRequestBytes = 8;  // SSLRequest, GSSENCRequest
  const auto answered = static_cast<std::uint32_t>(negotiations_seen_ - negotiations_to_skip_);
  return header_bytes + kNegotiationRequestBytes * (answered + 1);
}

}  // namespace l4lb::proxy
