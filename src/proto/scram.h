#pragma once

#include <array>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

// SCRAM-SHA-256 (RFC 5802, RFC 7677), the client side, without channel binding (gs2 header
// "n,,"). Pure: the nonce comes from the caller, so the RFC's test vector runs as a unit test.
namespace l4lb::proto {

// PBKDF2 work a server may ask of the health thread per check. PostgreSQL's default is 4096; a
// server asking for far more would stall every other check on the thread.
inline constexpr std::uint32_t kMaxScramIterations = 100'000;

// A fresh client nonce: 18 random bytes (RAND_bytes) in base64, as libpq sends. nullopt when the
// random generator fails.
[[nodiscard]] std::optional<std::string> scramClientNonce();

class ScramSha256Client {
 public:
  // `user` goes into client-first-message-bare; PostgreSQL ignores it (the startup message
  // names the role) and libpq sends it empty. `password` is used as is (no SASLprep, which only
  // changes non-ASCII passwords).
  ScramSha256Client(std::string_view user, std::string password, std::string client_nonce);
  ~ScramSha256Client();
  ScramSha256Client(const ScramSha256Client&) = delete;
  ScramSha256Client& operator=(const ScramSha256Client&) = delete;

  // "n,,n=USER,r=NONCE"
  [[nodiscard]] std::string clientFirst() const;
  // Answers server-first-message ("r=...,s=...,i=...") with client-final-message carrying the
  // proof. An error when the message is malformed, the nonce is not ours extended, or the
  // iteration count is out of bounds.
  [[nodiscard]] base::Result<std::string> clientFinal(std::string_view server_first);
  // server-final-message: "v=SIGNATURE" must match the signature only a server holding the
  // password's verifier can compute; "e=..." is the server's refusal, an error.
  [[nodiscard]] base::Result<void> verifyServerFinal(std::string_view server_final) const;

 private:
  std::string user_;
  std::string password_;
  std::string nonce_;
  std::array<unsigned char, 32> server_signature_{};
  bool answered_ = false;  // clientFinal succeeded, so server_signature_ is known
};

}  // namespace l4lb::proto
