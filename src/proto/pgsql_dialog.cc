#include "proto/pgsql_dialog.h"

#include <fmt/format.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>

#include <utility>

#include "proto/printable.h"
#include "proto/scram.h"

namespace l4lb::proto {

namespace {

// The longest message waited for. The messages of a check are tens of bytes; an ErrorResponse
// with a long detail a few hundred.
constexpr std::uint32_t kMaxMessage = 16 * 1024;

constexpr std::string_view kRecoveryQuery = "SELECT pg_is_in_recovery()";

// Authentication request codes (protocol 3.0, "Message Formats").
constexpr std::uint32_t kAuthOk = 0;
constexpr std::uint32_t kAuthCleartext = 3;
constexpr std::uint32_t kAuthMd5 = 5;
constexpr std::uint32_t kAuthSasl = 10;
constexpr std::uint32_t kAuthSaslContinue = 11;
constexpr std::uint32_t kAuthSaslFinal = 12;

std::string_view authName(std::uint32_t code) {
  switch (code) {
    case 2: return "Kerberos V5";
    case kAuthCleartext: return "cleartext password";
    case kAuthMd5: return "md5";
    case 7: return "GSSAPI";
    case 9: return "SSPI";
    case kAuthSasl: return "SASL";
    default: return "unknown";
  }
}

std::uint32_t readBigEndian32(std::string_view bytes) {
  return (std::uint32_t{static_cast<unsigned char>(bytes[0])} << 24) |
         (std::uint32_t{static_cast<unsigned char>(bytes[1])} << 16) |
         (std::uint32_t{static_cast<unsigned char>(bytes[2])} << 8) |
         std::uint32_t{static_cast<unsigned char>(bytes[3])};
}

void appendBigEndian32(std::string& out, std::uint32_t value) {
  out += static_cast<char>(value >> 24);
  out += static_cast<char>((value >> 16) & 0xff);
  out += static_cast<char>((value >> 8) & 0xff);
  out += static_cast<char>(value & 0xff);
}

void appendCString(std::string& out, std::string_view text) {
  out += text;
  out += '\0';
}

// A frontend message: type byte, length (itself included), body.
std::string message(char type, std::string_view body) {
  std::string out(1, type);
  appendBigEndian32(out, static_cast<std::uint32_t>(body.size() + 4));
  out += body;
  return out;
}

// The message types a server may send during a check; anything else is not PostgreSQL (an HTTP
// or redis server on the port), which the first byte tells.
bool backendType(char type) {
  return std::string_view("RENSKZvTDCIn").find(type) != std::string_view::npos;
}

std::string md5Hex(std::string_view text) {
  unsigned char digest[EVP_MAX_MD_SIZE];
  unsigned int size = 0;
  EVP_Digest(text.data(), text.size(), digest, &size, EVP_md5(), nullptr);
  std::string out;
  for (unsigned int i = 0; i < size; ++i) out += fmt::format("{:02x}", digest[i]);
  return out;
}

}  // namespace

PgsqlDialog::PgsqlDialog(std::string user, std::string database, std::string password, Role role,
                         std::string scram_nonce)
    : user_(std::move(user)),
      database_(std::move(database)),
      password_(std::move(password)),
      role_(role),
      scram_nonce_(std::move(scram_nonce)) {}

PgsqlDialog::~PgsqlDialog() { OPENSSL_cleanse(password_.data(), password_.size()); }

std::string PgsqlDialog::opening() {
  std::string body;
  appendBigEndian32(body, 196608);  // protocol 3.0
  appendCString(body, "user");
  appendCString(body, user_);
  appendCString(body, "database");
  appendCString(body, database_);
  appendCString(body, "application_name");
  appendCString(body, "l4lb-health");
  body += '\0';
  std::string out;
  appendBigEndian32(out, static_cast<std::uint32_t>(body.size() + 4));
  return out + body;
}

std::string PgsqlDialog::farewell() const {
  return session_open_ ? std::string("X\0\0\0\x04", 5) : std::string();
}

DialogStep PgsqlDialog::onReceived(std::string_view received) {
  if (phase_ == Phase::kDone) return {decided_, {}};
  pending_.append(received);
  std::string send;
  std::size_t used = 0;
  CheckVerdict verdict = CheckVerdict::needMore();
  while (verdict.status == CheckStatus::kNeedMore) {
    const std::string_view rest = std::string_view(pending_).substr(used);
    if (rest.empty()) break;
    if (!backendType(rest[0])) {
      verdict = CheckVerdict::down(
          fmt::format("not a postgres reply (type 0x{:02x})", static_cast<unsigned char>(rest[0])));
      break;
    }
    if (rest.size() < 5) break;
    const std::uint32_t length = readBigEndian32(rest.substr(1));
    if (length < 4 || length > kMaxMessage) {
      verdict = CheckVerdict::down(fmt::format("bad postgres message length {}", length));
      break;
    }
    if (rest.size() < 1 + std::size_t{length}) break;
    verdict = onMessage(rest[0], rest.substr(5, length - 4), send);
    used += 1 + std::size_t{length};
  }
  pending_.erase(0, used);
  if (verdict.status != CheckStatus::kNeedMore) {
    phase_ = Phase::kDone;
    decided_ = verdict;
    pending_.clear();
  }
  return {std::move(verdict), std::move(send)};
}

CheckVerdict PgsqlDialog::onMessage(char type, std::string_view body, std::string& send) {
  switch (type) {
    case 'E': return onError(body);
    case 'R': return onAuthentication(body, send);
    case 'Z': return onReadyForQuery(send);
    case 'N':  // NoticeResponse
    case 'S':  // ParameterStatus
    case 'K':  // BackendKeyData
    case 'v':  // NegotiateProtocolVersion
      return CheckVerdict::needMore();
    case 'T':  // RowDescription
    case 'C':  // CommandComplete
    case 'I':  // EmptyQueryResponse
    case 'n':  // NoData
      if (phase_ == Phase::kQuery) return CheckVerdict::needMore();
      break;
    case 'D':
      if (phase_ == Phase::kQuery) return onDataRow(body);
      break;
    default: break;
  }
  return CheckVerdict::down(
      fmt::format("unexpected postgres message '{}' {}", printable({&type, 1}),
                  phase_ == Phase::kQuery ? "answering the query" : "during login"));
}

CheckVerdict PgsqlDialog::onAuthentication(std::string_view body, std::string& send) {
  if (phase_ != Phase::kStartup && phase_ != Phase::kSasl) {
    return CheckVerdict::down("authentication request after login");
  }
  if (body.size() < 4) return CheckVerdict::down("short authentication request");
  const std::uint32_t code = readBigEndian32(body);
  const std::string_view data = body.substr(4);

  if (code == kAuthOk) {
    // A server that skips the SCRAM exchange it started has not proven it knows the password.
    if (phase_ == Phase::kSasl && !scram_verified_) {
      return CheckVerdict::down("AuthenticationOk without a verified SCRAM server signature");
    }
    phase_ = Phase::kLoggedIn;
    session_open_ = true;
    return CheckVerdict::needMore();
  }
  if (code == kAuthSaslContinue || code == kAuthSaslFinal) return onSaslStep(code, data, send);
  if (phase_ != Phase::kStartup) return CheckVerdict::down("second authentication request");

  const std::string_view name = authName(code);
  if (password_.empty()) {
    if (role_ == Role::kAny) {
      return CheckVerdict::up(fmt::format("authentication request ({})", name));
    }
    return CheckVerdict::down(fmt::format(
        "server asks for {} authentication and no password_file is configured (role = {} "
        "needs a login)",
        name, roleName(role_)));
  }
  if (code == kAuthMd5) {
    if (data.size() < 4) return CheckVerdict::down("md5 request without a salt");
    // PostgreSQL's md5: "md5" + md5(hex(md5(password + user)) + salt).
    send +=
        message('p', "md5" + md5Hex(md5Hex(password_ + user_) + std::string(data.substr(0, 4))) +
                         std::string(1, '\0'));
    method_ = "md5";
    return CheckVerdict::needMore();
  }
  if (code == kAuthSasl) return startSasl(data, send);
  if (code == kAuthCleartext) {
    return CheckVerdict::down(
        "server asks for a cleartext password; l4lb sends passwords only as md5 or "
        "scram-sha-256");
  }
  return CheckVerdict::down(
      fmt::format("server asks for {} authentication (code {}), not supported", name, code));
}

CheckVerdict PgsqlDialog::onSaslStep(std::uint32_t code, std::string_view data, std::string& send) {
  if (phase_ != Phase::kSasl || !scram_) {
    return CheckVerdict::down("SASL message without a SASL exchange");
  }
  if (code == kAuthSaslContinue) {
    auto final_message = scram_->clientFinal(data);
    if (!final_message) {
      return CheckVerdict::down("SCRAM-SHA-256: " + final_message.error().message());
    }
    send += message('p', *final_message);  // SASLResponse
    return CheckVerdict::needMore();
  }
  if (auto verified = scram_->verifyServerFinal(data); !verified) {
    return CheckVerdict::down("SCRAM-SHA-256: " + verified.error().message());
  }
  scram_verified_ = true;
  return CheckVerdict::needMore();
}

CheckVerdict PgsqlDialog::startSasl(std::string_view mechanisms, std::string& send) {
  bool offered = false;
  std::string offers;
  std::string_view list = mechanisms;
  while (!list.empty() && list[0] != '\0') {
    const std::size_t end = list.find('\0');
    if (end == std::string_view::npos) break;
    const std::string_view mechanism = list.substr(0, end);
    offered = offered || mechanism == "SCRAM-SHA-256";
    offers += (offers.empty() ? "" : " ") + printable(mechanism, 40);
    list.remove_prefix(end + 1);
  }
  if (!offered) {
    return CheckVerdict::down(
        fmt::format("server offers SASL {} only; l4lb speaks SCRAM-SHA-256 without channel binding",
                    offers.empty() ? "(nothing)" : offers));
  }
  std::string nonce = scram_nonce_;
  if (nonce.empty()) {
    auto fresh = scramClientNonce();
    if (!fresh) return CheckVerdict::down("no random bytes for the SCRAM nonce");
    nonce = std::move(*fresh);
  }
  scram_ = std::make_unique<ScramSha256Client>("", password_, std::move(nonce));
  const std::string first = scram_->clientFirst();
  std::string initial;  // SASLInitialResponse: mechanism, length of the data, data
  appendCString(initial, "SCRAM-SHA-256");
  appendBigEndian32(initial, static_cast<std::uint32_t>(first.size()));
  initial += first;
  send += message('p', initial);
  phase_ = Phase::kSasl;
  method_ = "scram-sha-256";
  return CheckVerdict::needMore();
}

CheckVerdict PgsqlDialog::onReadyForQuery(std::string& send) {
  if (phase_ == Phase::kLoggedIn) {
    if (role_ == Role::kAny) {
      return CheckVerdict::up(fmt::format("ReadyForQuery (login: {})", method_));
    }
    std::string query;
    appendCString(query, kRecoveryQuery);
    send += message('Q', query);
    phase_ = Phase::kQuery;
    return CheckVerdict::needMore();
  }
  if (phase_ != Phase::kQuery) return CheckVerdict::down("ReadyForQuery before authentication");
  if (!in_recovery_) return CheckVerdict::down("pg_is_in_recovery() returned no row");
  if (*in_recovery_ != 't' && *in_recovery_ != 'f') {
    return CheckVerdict::down("pg_is_in_recovery() returned NULL");
  }
  const Role actual = *in_recovery_ == 't' ? Role::kReplica : Role::kPrimary;
  const std::string what =
      fmt::format("role is {} (pg_is_in_recovery = {})", roleName(actual), *in_recovery_);
  if (actual == role_) return CheckVerdict::up(what);
  return CheckVerdict::down(fmt::format("{}, pool wants {}", what, roleName(role_)));
}

CheckVerdict PgsqlDialog::onDataRow(std::string_view body) {
  // Int16 column count, then per column an Int32 length (-1: NULL) and the text.
  if (in_recovery_) return CheckVerdict::down("pg_is_in_recovery() returned several rows");
  if (body.size() < 6 || body[0] != 0 || body[1] != 1) {
    return CheckVerdict::down("pg_is_in_recovery() row is not one column");
  }
  const std::uint32_t length = readBigEndian32(body.substr(2));
  if (length == 0xffffffff) {
    in_recovery_ = 'n';
    return CheckVerdict::needMore();
  }
  if (length != 1 || body.size() != 7 || (body[6] != 't' && body[6] != 'f')) {
    return CheckVerdict::down("pg_is_in_recovery() returned \"" +
                              printable(body.substr(6, length), 40) + "\"");
  }
  in_recovery_ = body[6];
  return CheckVerdict::needMore();
}

CheckVerdict PgsqlDialog::onError(std::string_view body) {
  // Fields: a type byte and a NUL-terminated string each. V is the severity never translated
  // (S may be), C the SQLSTATE, M the message.
  std::string_view severity;
  std::string_view localized;
  std::string_view code;
  std::string_view text;
  while (!body.empty() && body[0] != '\0') {
    const char field = body[0];
    const std::size_t end = body.find('\0', 1);
    if (end == std::string_view::npos) break;
    const std::string_view value = body.substr(1, end - 1);
    if (field == 'V') severity = value;
    if (field == 'S') localized = value;
    if (field == 'C') code = value;
    if (field == 'M') text = value;
    body.remove_prefix(end + 1);
  }
  if (severity.empty()) severity = localized;
  // After FATAL or PANIC the server has closed the session: no Terminate is owed.
  if (severity != "ERROR") session_open_ = false;
  std::string reason = phase_ == Phase::kQuery ? "query failed:" : "login refused:";
  for (const std::string_view part : {severity, code, text}) {
    if (!part.empty()) reason += " " + printable(part);
  }
  return CheckVerdict::down(std::move(reason));
}

}  // namespace l4lb::proto
