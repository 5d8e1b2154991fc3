#pragma once

#include <cstdint>
#include <span>

#include "config/config.h"
#include "proto/first_reply.h"

namespace l4lb::proxy {

// The retry_on window of one session (README.md, retry_on): from the connect until the backend's
// first answer, what the client sent is kept (by the relay), and a backend that ends before
// answering ("empty-response") or answers with a refusal in its protocol ("refused-greeting") is
// left for another one, which gets the same bytes. This class holds what the window needs to
// know of the protocol: which answers end it, and how a replay is paced.
//
// PostgreSQL's SSLRequest (and GSSENCRequest) get a one-byte answer ('N') before the real one:
// such a negotiation answer does not end the window. A replacement backend sends it again; the
// client, which has seen it, must not, and the replay sends each 8-byte request alone and what
// follows only after its answer (PostgreSQL refuses bytes sent ahead of its 'N').
class ReplayWindow {
 public:
  // What an answer means for the session.
  enum class Answer : std::uint8_t {
    kFinal,        // the backend answered: pass it on, the window closes
    kNegotiation,  // pass it on, the window stays open
    kRepeated,     // a negotiation answer the client has already seen: drop it
    kRefused,      // a refusal, and retry_on has "refused-greeting": try another backend
    kMismatch,     // a replacement answered the negotiation otherwise: the client is past it
  };

  // Settles the pool's retry_on and the protocol its health check speaks. False: the pool
  // retries nothing after a connect, and the window never opens.
  bool open(const config::PoolConfig& pool);
  [[nodiscard]] bool retriesEmptyResponse() const { return empty_response_; }

  // The first bytes the backend sent (or the next, after a negotiation answer).
  [[nodiscard]] Answer judge(std::span<const std::uint8_t> bytes);

  // A replay to another backend begins: the negotiation answers the client has seen will come
  // again and are dropped.
  void replay() { negotiations_to_skip_ = negotiations_seen_; }
  // A replay still has negotiation answers to skip (its pacing is not done).
  [[nodiscard]] bool replaying() const { return negotiations_to_skip_ != 0; }
  // How many of the retained bytes a replay may send before the next negotiation answer, the
  // PROXY header (`header_bytes`) at their start included; 0: no limit.
  [[nodiscard]] std::uint32_t sendLimit(std::uint16_t header_bytes) const;

 private:
  proto::GreetingProtocol greeting_ = proto::GreetingProtocol::kNone;
  bool empty_response_ = false;
  bool refused_greeting_ = false;
  // Negotiation answers the client has seen, and those a replacement will send again.
  std::uint8_t negotiations_seen_ = 0;
  std::uint8_t negotiations_to_skip_ = 0;
};

}  // namespace l4lb::proxy
