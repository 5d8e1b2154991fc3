#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "proto/check_dialog.h"
#include "proto/check_reply.h"

namespace l4lb::proto {

class ScramSha256Client;

// The pgsql check: a protocol 3.0 StartupMessage for `user` and `database`, then
//  - without a password: any authentication request, or ReadyForQuery after trust, is up;
//  - with a password: a login (md5, or SCRAM-SHA-256 whose server signature must verify) to
//    ReadyForQuery;
//  - with a role: after login, "SELECT pg_is_in_recovery()" (simple Query), and the backend is
//    up when its answer (f: primary, t: replica) is the role the pool wants. A role needs a
//    login, so a server asking for a password when none is configured is down.
// An ErrorResponse is down with the server's severity, SQLSTATE and message. A granted session
// ends with Terminate (farewell()), so the server logs no "unexpected EOF". Cleartext password
// requests are refused: the password would cross the wire as is, to whoever answers.
class PgsqlDialog final : public CheckDialog {
 public:
  // `scram_nonce` is for tests; empty: a fresh random one per check.
  PgsqlDialog(std::string user, std::string database, std::string password, Role role,
              std::string scram_nonce = {});
  ~PgsqlDialog() override;

  [[nodiscard]] std::string opening() override;
  [[nodiscard]] DialogStep onReceived(std::string_view received) override;
  [[nodiscard]] std::string farewell() const override;

 private:
  enum class Phase : std::uint8_t {
    kStartup,   // StartupMessage sent; authentication requests expected
    kSasl,      // SCRAM under way
    kLoggedIn,  // AuthenticationOk seen; ParameterStatus... ReadyForQuery expected
    kQuery,     // pg_is_in_recovery() sent; its rows and ReadyForQuery expected
    kDone,
  };

  // One complete message; appends what to send to `send`.
  [[nodiscard]] CheckVerdict onMessage(char type, std::string_view body, std::string& send);
  [[nodiscard]] CheckVerdict onAuthentication(std::string_view body, std::string& send);
  // AuthenticationSASLContinue and AuthenticationSASLFinal: the SCRAM exchange's later steps.
  [[nodiscard]] CheckVerdict onSaslStep(std::uint32_t code, std::string_view data,
                                        std::string& send);
  // AuthenticationSASL: the server's mechanisms; starts SCRAM-SHA-256 when offered.
  [[nodiscard]] CheckVerdict startSasl(std::string_view mechanisms, std::string& send);
  [[nodiscard]] CheckVerdict onReadyForQuery(std::string& send);
  [[nodiscard]] CheckVerdict onDataRow(std::string_view body);
  [[nodiscard]] CheckVerdict onError(std::string_view body);

  std::string user_;
  std::string database_;
  std::string password_;
  Role role_;
  std::string scram_nonce_;
  std::unique_ptr<ScramSha256Client> scram_;
  Phase phase_ = Phase::kStartup;
  bool scram_verified_ = false;
  bool session_open_ = false;        // AuthenticationOk seen, and no FATAL since
  std::optional<char> in_recovery_;  // the query's answer: 't', 'f', or 'n' for NULL
  std::string method_ = "trust";     // how the login went, for the up reason
  std::string pending_;              // bytes of a message not yet complete
  CheckVerdict decided_;
};

}  // namespace l4lb::proto
