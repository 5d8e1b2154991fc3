#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "proto/check_dialog.h"

namespace l4lb::proto {

// check = "mysql" (MySQL and MariaDB), in three depths:
//  - no user: the server's greeting decides. Protocol 10 is up; an error packet (too many
//    connections, host blocked) is down.
//  - a user, role any: the check logs in (HandshakeResponse41, with the password's proof when
//    there is one) and an OK is up. Like HAProxy's `mysql-check user`, the session then ends
//    with COM_QUIT, so the server never counts the check as an aborted connect (which, repeated
//    max_connect_errors times, blocks the host).
//  - a user and a role: after the login, SELECT @@global.read_only; 0 is a primary, 1 a
//    replica, and a backend in the other role is down for this pool.
// Logins speak mysql_native_password and caching_sha2_password, whichever the greeting or an
// AuthSwitchRequest names; caching_sha2's full authentication without TLS fetches the server's
// RSA public key. The password never appears in a reason.
class MysqlDialog final : public CheckDialog {
 public:
  MysqlDialog(std::string user, std::string password, Role role);
  ~MysqlDialog() override;

  [[nodiscard]] std::string opening() override { return {}; }
  [[nodiscard]] DialogStep onReceived(std::string_view received) override;
  // COM_QUIT once logged in; nothing before (an ERR has already closed the session).
  [[nodiscard]] std::string farewell() const override;

  // A server packet, or the client's answer, larger than this is not a health check's business.
  static constexpr std::size_t kMaxPacket = 16 * 1024;

 private:
  enum class Phase : std::uint8_t {
    kGreeting,   // waiting for the server's HandshakeV10
    kLogin,      // login sent: OK, ERR, AuthSwitchRequest or AuthMoreData next
    kPublicKey,  // caching_sha2 full authentication: the server's RSA key next
    kResult,     // query sent: its column count (or an ERR) next
    kColumns,    // the column definitions
    kRows,       // the row with @@read_only, then the end of the result set
    kDone,
  };

  // One whole packet from the server; a verdict ends the dialog, otherwise `send` may grow.
  [[nodiscard]] CheckVerdict onPacket(std::uint8_t sequence, std::string_view payload,
                                      std::string& send);
  [[nodiscard]] CheckVerdict onGreeting(std::string_view payload, std::string& send);
  // HandshakeResponse41: the login, with plugin_'s proof; `capabilities` are the server's.
  void sendHandshakeResponse(std::uint32_t capabilities, std::string& send);
  [[nodiscard]] CheckVerdict onLoginReply(std::string_view payload, std::string& send);
  [[nodiscard]] CheckVerdict onPublicKey(std::string_view payload, std::string& send);
  [[nodiscard]] CheckVerdict onQueryReply(std::string_view payload);
  [[nodiscard]] CheckVerdict loggedIn(std::string& send);
  [[nodiscard]] CheckVerdict roleVerdict() const;
  // The plugin's first answer to `nonce`, or nullopt when the plugin is not one we speak.
  [[nodiscard]] std::optional<std::string> authResponse(std::string_view plugin) const;
  void sendPacket(std::string& send, std::string_view payload);

  const std::string user_;
  std::string password_;  // wiped in the destructor
  const Role role_;
  Phase phase_ = Phase::kGreeting;
  std::string buffer_;  // bytes of a packet not yet whole
  std::uint8_t next_sequence_ = 0;
  std::string server_version_;
  std::string plugin_;  // the authentication plugin in use
  std::string nonce_;
  bool switched_ = false;   // an AuthSwitchRequest was answered (a second one is refused)
  bool full_auth_ = false;  // the RSA key was asked for (a second 0x01 0x04 is refused)
  bool logged_in_ = false;
  std::uint64_t columns_left_ = 0;
  bool columns_eof_seen_ = false;
  std::optional<std::string> read_only_;  // the first column of the first row
};

// A packet as the client sends it: 3-byte little-endian payload length, sequence id, payload.
[[nodiscard]] std::string mysqlPacket(std::uint8_t sequence, std::string_view payload);

}  // namespace l4lb::proto
