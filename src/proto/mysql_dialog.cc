#include "proto/mysql_dialog.h"

#include <fmt/format.h>
#include <openssl/crypto.h>

#include <algorithm>
#include <utility>

#include "proto/mysql_auth.h"
#include "proto/printable.h"
#include "proto/wire_read.h"

namespace l4lb::proto {

namespace {

// Capability flags (MySQL client/server protocol, "Capabilities Flags").
constexpr std::uint32_t kClientLongPassword = 0x1;
constexpr std::uint32_t kClientProtocol41 = 0x200;
constexpr std::uint32_t kClientSecureConnection = 0x8000;
constexpr std::uint32_t kClientPluginAuth = 0x80000;

constexpr std::string_view kReadOnlyQuery = "SELECT @@global.read_only";

std::size_t readLittleEndian(std::string_view bytes, std::size_t n) {
  std::size_t value = 0;
  for (std::size_t i = 0; i < n; ++i) value |= std::size_t{byteAt(bytes, i)} << (8 * i);
  return value;
}

// An ERR packet's payload as "CODE message" (the SQL state, when present, left out).
std::string errorText(std::string_view payload) {
  if (payload.size() < 3) return "an error packet without a code";
  const auto code = readLittleEndian(payload.substr(1), 2);
  std::string_view message = payload.substr(3);
  if (!message.empty() && message[0] == '#')
    message.remove_prefix(std::min<std::size_t>(6, message.size()));
  return fmt::format("{} {}", code, printable(message));
}

// A length-encoded integer at the front of `bytes`, consumed; nullopt for NULL (0xfb), an
// error marker (0xff) or too few bytes.
std::optional<std::uint64_t> takeLengthEncoded(std::string_view& bytes) {
  if (bytes.empty()) return std::nullopt;
  const unsigned first = byteAt(bytes, 0);
  std::size_t width = 0;
  if (first < 0xfb) {
    bytes.remove_prefix(1);
    return first;
  }
  if (first == 0xfc)
    width = 2;
  else if (first == 0xfd)
    width = 3;
  else if (first == 0xfe)
    width = 8;
  else
    return std::nullopt;
  if (bytes.size() < 1 + width) return std::nullopt;
  const std::uint64_t value = readLittleEndian(bytes.substr(1), width);
  bytes.remove_prefix(1 + width);
  return value;
}

// EOF, or the OK that replaces it: 0xfe and shorter than 9 bytes (a longer 0xfe is a row
// whose first value is a length-encoded integer of 8 bytes).
bool isEof(std::string_view payload) {
  return !payload.empty() && byteAt(payload, 0) == 0xfe && payload.size() < 9;
}

std::string_view stripTrailingNul(std::string_view data) {
  if (!data.empty() && data.back() == '\0') data.remove_suffix(1);
  return data;
}

}  // namespace

std::string mysqlPacket(std::uint8_t sequence, std::string_view payload) {
  std::string out;
  out += static_cast<char>(payload.size() & 0xff);
  out += static_cast<char>((payload.size() >> 8) & 0xff);
  out += static_cast<char>((payload.size() >> 16) & 0xff);
  out += static_cast<char>(sequence);
  out += payload;
  return out;
}

MysqlDialog::MysqlDialog(std::string user, std::string password, Role role)
    : user_(std::move(user)), password_(std::move(password)), role_(role) {}

MysqlDialog::~MysqlDialog() { OPENSSL_cleanse(password_.data(), password_.size()); }

std::string MysqlDialog::farewell() const {
  if (!logged_in_) return {};
  return mysqlPacket(0, "\x01");  // COM_QUIT
}

DialogStep MysqlDialog::onReceived(std::string_view received) {
  if (phase_ == Phase::kDone) return {CheckVerdict::down("mysql server spoke after the end"), {}};
  buffer_.append(received);
  std::string send;
  while (true) {
    // Something that is not MySQL at all (an HTTP or redis server) is told at the greeting's
    // first byte, and by its first five bytes only, so the reason is the same however the
    // reply was split into reads.
    if (phase_ == Phase::kGreeting) {
      if (buffer_.size() < 5) break;
      const unsigned first = byteAt(buffer_, 4);
      if (first != 0x0a && first != 0xff) {
        phase_ = Phase::kDone;
        return {CheckVerdict::down(fmt::format("not a mysql greeting (\"{}\")",
                                               printable(std::string_view(buffer_).substr(0, 5)))),
                {}};
      }
    }
    if (buffer_.size() < 4) break;
    const std::size_t length = readLittleEndian(buffer_, 3);
    if (length > kMaxPacket) {
      phase_ = Phase::kDone;
      return {CheckVerdict::down(
                  fmt::format("mysql packet of {} bytes, more than a check reads", length)),
              std::move(send)};
    }
    if (buffer_.size() < 4 + length) break;
    const auto sequence = static_cast<std::uint8_t>(buffer_[3]);
    const std::string payload = buffer_.substr(4, length);
    buffer_.erase(0, 4 + length);
    CheckVerdict verdict = onPacket(sequence, payload, send);
    if (verdict.status != CheckStatus::kNeedMore) {
      // What the packets before it asked for goes along, so a conversation ends the same
      // whichever way its bytes were split into reads (the probe sends nothing after a verdict).
      phase_ = Phase::kDone;
      return {std::move(verdict), std::move(send)};
    }
  }
  return {CheckVerdict::needMore(), std::move(send)};
}

CheckVerdict MysqlDialog::onPacket(std::uint8_t sequence, std::string_view payload,
                                   std::string& send) {
  if (sequence != next_sequence_) {
    return CheckVerdict::down(fmt::format("mysql packets out of order (sequence {}, expected {})",
                                          sequence, next_sequence_));
  }
  next_sequence_ = static_cast<std::uint8_t>(sequence + 1);
  if (payload.empty()) return CheckVerdict::down("empty mysql packet");
  switch (phase_) {
    case Phase::kGreeting: return onGreeting(payload, send);
    case Phase::kLogin: return onLoginReply(payload, send);
    case Phase::kPublicKey: return onPublicKey(payload, send);
    case Phase::kResult:
    case Phase::kColumns:
    case Phase::kRows: return onQueryReply(payload);
    case Phase::kDone: break;
  }
  return CheckVerdict::down("mysql server spoke after the end");
}

void MysqlDialog::sendPacket(std::string& send, std::string_view payload) {
  send += mysqlPacket(next_sequence_, payload);
  next_sequence_ = static_cast<std::uint8_t>(next_sequence_ + 1);
}

std::optional<std::string> MysqlDialog::authResponse(std::string_view plugin) const {
  if (plugin == kMysqlNativePassword) return mysqlNativeScramble(password_, nonce_);
  if (plugin == kCachingSha2Password) return cachingSha2Scramble(password_, nonce_);
  return std::nullopt;
}

CheckVerdict MysqlDialog::onGreeting(std::string_view payload, std::string& send) {
  if (byteAt(payload, 0) == 0xff) {
    return CheckVerdict::down("server refused the connection: " + errorText(payload));
  }
  // HandshakeV10: protocol 10, the server version (NUL-terminated), then what a login needs.
  const std::size_t version_end = payload.find('\0', 1);
  if (version_end == std::string_view::npos) return CheckVerdict::down("truncated mysql greeting");
  server_version_ = printable(payload.substr(1, version_end - 1), 60);
  if (user_.empty()) return CheckVerdict::up("mysql " + server_version_);

  // Thread id (4), nonce part 1 (8), a filler, the low capability bytes (2).
  std::size_t at = version_end + 1;
  if (payload.size() < at + 4 + 8 + 1 + 2) {
    return CheckVerdict::down("mysql greeting too short to log in (" + server_version_ + ")");
  }
  std::string nonce(payload.substr(at + 4, 8));
  std::uint32_t capabilities =
      static_cast<std::uint32_t>(readLittleEndian(payload.substr(at + 13), 2));
  at += 15;
  std::string_view plugin;
  // Charset (1), status (2), the high capability bytes (2), the nonce's length (1), 10 reserved.
  if (payload.size() >= at + 16) {
    capabilities |= static_cast<std::uint32_t>(readLittleEndian(payload.substr(at + 3), 2)) << 16;
    const std::size_t nonce_length = byteAt(payload, at + 5);
    at += 16;
    if ((capabilities & kClientSecureConnection) != 0) {
      const std::size_t part2 = std::min(
          payload.size() - at, std::max<std::size_t>(13, nonce_length > 8 ? nonce_length - 8 : 0));
      nonce += stripTrailingNul(payload.substr(at, part2));
      at += part2;
    }
    if ((capabilities & kClientPluginAuth) != 0 && at < payload.size()) {
      plugin = payload.substr(at);
      plugin = plugin.substr(0, plugin.find('\0'));
    }
  }
  if ((capabilities & kClientProtocol41) == 0) {
    return CheckVerdict::down("mysql server " + server_version_ + " does not speak protocol 4.1");
  }
  nonce_ = std::move(nonce);
  // Answer with the plugin the server proposes when we speak it; otherwise with
  // mysql_native_password, and the server switches us to the account's plugin if it differs.
  plugin_ = plugin == kCachingSha2Password ? kCachingSha2Password : kMysqlNativePassword;
  sendHandshakeResponse(capabilities, send);
  phase_ = Phase::kLogin;
  return CheckVerdict::needMore();
}

void MysqlDialog::sendHandshakeResponse(std::uint32_t capabilities, std::string& send) {
  const std::string proof = *authResponse(plugin_);
  std::string response;
  std::uint32_t flags = kClientLongPassword | kClientProtocol41 | kClientSecureConnection;
  if ((capabilities & kClientPluginAuth) != 0) flags |= kClientPluginAuth;
  for (int shift = 0; shift < 32; shift += 8)
    response += static_cast<char>((flags >> shift) & 0xff);
  response += std::string("\x00\x00\x00\x01", 4);  // max packet size 16 MiB, little-endian
  response += '\x21';                              // utf8_general_ci
  response += std::string(23, '\0');
  response += user_;
  response += '\0';
  response += static_cast<char>(proof.size());
  response += proof;
  if ((flags & kClientPluginAuth) != 0) {
    response += plugin_;
    response += '\0';
  }
  sendPacket(send, response);
}

CheckVerdict MysqlDialog::onLoginReply(std::string_view payload, std::string& send) {
  const unsigned first = byteAt(payload, 0);
  if (first == 0x00) return loggedIn(send);
  if (first == 0xff) return CheckVerdict::down("login refused: " + errorText(payload));
  if (first == 0xfe) {
    // AuthSwitchRequest: the account's plugin, and a fresh nonce for it.
    if (payload.size() == 1) {
      return CheckVerdict::down(
          "server wants the pre-4.1 password protocol, which l4lb does not speak");
    }
    if (switched_) return CheckVerdict::down("server asked to switch authentication plugins twice");
    switched_ = true;
    const std::string_view rest = payload.substr(1);
    const std::size_t end = rest.find('\0');
    const std::string_view plugin = rest.substr(0, end);
    auto proof = std::optional<std::string>();
    if (plugin == kMysqlNativePassword || plugin == kCachingSha2Password) {
      plugin_ = plugin;
      nonce_ = end == std::string_view::npos ? std::string()
                                             : std::string(stripTrailingNul(rest.substr(end + 1)));
      proof = authResponse(plugin_);
    }
    if (!proof) {
      return CheckVerdict::down(
          fmt::format("server switches to authentication plugin '{}', which l4lb does not speak "
                      "({} and {} only)",
                      printable(plugin, 64), kMysqlNativePassword, kCachingSha2Password));
    }
    sendPacket(send, *proof);
    return CheckVerdict::needMore();
  }
  if (first == 0x01 && plugin_ == kCachingSha2Password && payload.size() == 2) {
    // AuthMoreData from caching_sha2_password: 3 the cached proof matched (OK follows), 4 the
    // server needs the password itself.
    if (byteAt(payload, 1) == 0x03) return CheckVerdict::needMore();
    if (byteAt(payload, 1) == 0x04 && !full_auth_) {
      full_auth_ = true;
      // Without TLS the password travels encrypted with the server's RSA key: ask for it.
      sendPacket(send, "\x02");
      phase_ = Phase::kPublicKey;
      return CheckVerdict::needMore();
    }
  }
  return CheckVerdict::down(
      fmt::format("unexpected reply to the login (\"{}\")", printable(payload.substr(0, 16))));
}

CheckVerdict MysqlDialog::onPublicKey(std::string_view payload, std::string& send) {
  const unsigned first = byteAt(payload, 0);
  if (first == 0xff) return CheckVerdict::down("login refused: " + errorText(payload));
  if (first != 0x01) {
    return CheckVerdict::down(
        fmt::format("server sent no RSA public key (\"{}\")", printable(payload.substr(0, 16))));
  }
  auto encrypted = cachingSha2EncryptPassword(password_, nonce_, payload.substr(1));
  if (!encrypted) {
    return CheckVerdict::down("caching_sha2_password full authentication: " +
                              encrypted.error().message());
  }
  sendPacket(send, *encrypted);
  phase_ = Phase::kLogin;
  return CheckVerdict::needMore();
}

CheckVerdict MysqlDialog::loggedIn(std::string& send) {
  logged_in_ = true;
  if (role_ == Role::kAny) {
    return CheckVerdict::up(
        fmt::format("mysql login OK as '{}' ({})", printable(user_, 64), server_version_));
  }
  // A command starts a new sequence.
  next_sequence_ = 0;
  std::string query = "\x03";  // COM_QUERY
  query += kReadOnlyQuery;
  sendPacket(send, query);
  phase_ = Phase::kResult;
  return CheckVerdict::needMore();
}

CheckVerdict MysqlDialog::onQueryReply(std::string_view payload) {
  const unsigned first = byteAt(payload, 0);
  if (first == 0xff) {
    return CheckVerdict::down(fmt::format("{} failed: {}", kReadOnlyQuery, errorText(payload)));
  }
  switch (phase_) {
    case Phase::kResult: {
      std::string_view rest = payload;
      const auto columns =
          first == 0x00 ? std::optional<std::uint64_t>(0) : takeLengthEncoded(rest);
      if (!columns || *columns == 0 || !rest.empty()) {
        return CheckVerdict::down(fmt::format("{} returned no result set", kReadOnlyQuery));
      }
      columns_left_ = *columns;
      phase_ = Phase::kColumns;
      return CheckVerdict::needMore();
    }
    case Phase::kColumns:
      if (--columns_left_ == 0) phase_ = Phase::kRows;
      return CheckVerdict::needMore();
    case Phase::kRows:
      if (isEof(payload)) {
        // Without CLIENT_DEPRECATE_EOF an EOF closes the column definitions, another the rows.
        if (!columns_eof_seen_ && !read_only_) {
          columns_eof_seen_ = true;
          return CheckVerdict::needMore();
        }
        return roleVerdict();
      }
      if (!read_only_) {
        std::string_view rest = payload;
        if (first == 0xfb) {
          read_only_ = "NULL";
        } else if (auto length = takeLengthEncoded(rest); length && *length <= rest.size()) {
          read_only_ = std::string(rest.substr(0, *length));
        } else {
          return CheckVerdict::down(fmt::format("malformed row from {}", kReadOnlyQuery));
        }
      }
      return CheckVerdict::needMore();  // the rest of the result set is read before quitting
    default: break;
  }
  return CheckVerdict::down("mysql result set out of order");
}

CheckVerdict MysqlDialog::roleVerdict() const {
  if (!read_only_) return CheckVerdict::down(fmt::format("{} returned no row", kReadOnlyQuery));
  Role role = Role::kAny;
  if (*read_only_ == "0")
    role = Role::kPrimary;
  else if (*read_only_ == "1")
    role = Role::kReplica;
  else
    return CheckVerdict::down(
        fmt::format("@@global.read_only is '{}', neither 0 nor 1", printable(*read_only_, 32)));
  const std::string reason =
      fmt::format("role is {} (read_only = {})", roleName(role), *read_only_);
  if (role == role_) return CheckVerdict::up(reason);
  return CheckVerdict::down(fmt::format("{}, pool wants {}", reason, roleName(role_)));
}

}  // namespace l4lb::proto
