#include "proto/pgsql_dialog.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

namespace l4lb::proto {
namespace {

using namespace std::string_literals;

std::string be32(std::uint32_t value) {
  return {static_cast<char>(value >> 24), static_cast<char>((value >> 16) & 0xff),
          static_cast<char>((value >> 8) & 0xff), static_cast<char>(value & 0xff)};
}

// A protocol 3.0 message: type, length (itself included), body.
std::string msg(char type, std::string_view body) {
  return std::string(1, type) + be32(static_cast<std::uint32_t>(body.size() + 4)) +
         std::string(body);
}

std::string auth(std::uint32_t code, std::string_view data = {}) {
  return msg('R', be32(code) + std::string(data));
}

std::string errorResponse(std::string_view severity, std::string_view code, std::string_view text) {
  return msg('E', "S"s + std::string(severity) + '\0' + "V" + std::string(severity) + '\0' + "C" +
                      std::string(code) + '\0' + "M" + std::string(text) + '\0' +
                      "Fauth.c\0Rauth_failed\0\0"s);
}

const std::string kAuthOk = auth(0);
// What a server says between AuthenticationOk and ReadyForQuery.
const std::string kSessionStart = msg('S',
                                      "server_version\0"
                                      "15.8\0"s) +
                                  msg('S', "in_hot_standby\0off\0"s) +
                                  msg('K', be32(4242) + be32(77));
const std::string kReady = msg('Z', "I");
const std::string kTerminate = "X\0\0\0\x04"s;

std::string queryAnswer(char value) {
  return msg('T', "\0\x01pg_is_in_recovery\0\0\0\0\0\0\0\0\0\0\x10\0\x01\xff\xff\xff\xff\0\0"s) +
         msg('D', "\0\x01"s + be32(1) + value) + msg('C', "SELECT 1\0"s) + kReady;
}

const std::string kRecoveryQuery = msg('Q', "SELECT pg_is_in_recovery()\0"s);

struct PgsqlOutcome {
  CheckVerdict verdict;
  std::string sent;  // everything the dialog asked to send, in order
};

// Feeds `bytes` in pieces of `chunk` bytes (0: all at once) until the dialog decides.
PgsqlOutcome feed(PgsqlDialog& dialog, std::string_view bytes, std::size_t chunk = 0) {
  PgsqlOutcome out;
  if (chunk == 0) chunk = bytes.size();
  while (!bytes.empty()) {
    const std::size_t n = std::min(chunk, bytes.size());
    DialogStep step = dialog.onReceived(bytes.substr(0, n));
    bytes.remove_prefix(n);
    out.sent += step.send;
    out.verdict = std::move(step.verdict);
    if (out.verdict.status != CheckStatus::kNeedMore) break;
  }
  return out;
}

using Factory = std::function<std::unique_ptr<PgsqlDialog>()>;

Factory dialogFor(std::string password, Role role = Role::kAny) {
  return [=] {
    return std::make_unique<PgsqlDialog>("alice", "app", password, role, "rOprNGfwEbeRWgbNEkqO");
  };
}

// The whole reply at once and the same bytes split every way: the same verdict, reason and
// bytes sent.
PgsqlOutcome expectSplitsAgree(const Factory& make, std::string_view bytes) {
  auto whole_dialog = make();
  const PgsqlOutcome whole = feed(*whole_dialog, bytes);
  for (std::size_t chunk : {1, 2, 3, 5, 8, 13}) {
    auto dialog = make();
    const PgsqlOutcome split = feed(*dialog, bytes, chunk);
    EXPECT_EQ(split.verdict.status, whole.verdict.status) << "chunks of " << chunk;
    EXPECT_EQ(split.verdict.reason, whole.verdict.reason) << "chunks of " << chunk;
    EXPECT_EQ(split.sent, whole.sent) << "chunks of " << chunk;
    EXPECT_EQ(dialog->farewell(), whole_dialog->farewell()) << "chunks of " << chunk;
  }
  return whole;
}

bool isUp(const PgsqlOutcome& o) { return o.verdict.status == CheckStatus::kUp; }
bool isDown(const PgsqlOutcome& o) { return o.verdict.status == CheckStatus::kDown; }
bool needsMore(const PgsqlOutcome& o) { return o.verdict.status == CheckStatus::kNeedMore; }

TEST(PgsqlDialogTest, StartupMessage) {
  PgsqlDialog dialog("alice", "db", "", Role::kAny);
  const std::string startup = dialog.opening();
  ASSERT_GE(startup.size(), 8U);
  EXPECT_EQ(startup.substr(0, 4), be32(static_cast<std::uint32_t>(startup.size())));
  EXPECT_EQ(startup.substr(4, 4), "\x00\x03\x00\x00"s);
  EXPECT_NE(startup.find("user\0alice\0database\0db\0"s), std::string::npos);
  EXPECT_NE(startup.find("application_name\0l4lb-health\0"s), std::string::npos);
  EXPECT_EQ(startup.substr(startup.size() - 2), "\0\0"s);
}

TEST(PgsqlDialogTest, AuthenticationRequestWithoutPasswordIsUp) {
  auto make = dialogFor("");
  const PgsqlOutcome md5 = expectSplitsAgree(make, auth(5, "salt"));
  EXPECT_TRUE(isUp(md5));
  EXPECT_EQ(md5.verdict.reason, "authentication request (md5)");
  EXPECT_TRUE(md5.sent.empty());
  auto dialog = make();
  (void)feed(*dialog, auth(10, "SCRAM-SHA-256\0\0"s));
  // Mid-login the server expects a password message, not Terminate: nothing is owed.
  EXPECT_EQ(dialog->farewell(), "");
}

TEST(PgsqlDialogTest, TrustIsUpAtReadyForQueryAndEndsWithTerminate) {
  auto make = dialogFor("");
  auto dialog = make();
  EXPECT_TRUE(needsMore(feed(*dialog, kAuthOk + kSessionStart)));
  const PgsqlOutcome o = expectSplitsAgree(make, kAuthOk + kSessionStart + kReady);
  EXPECT_TRUE(isUp(o));
  EXPECT_NE(o.verdict.reason.find("ReadyForQuery"), std::string::npos) << o.verdict.reason;
  auto done = make();
  (void)feed(*done, kAuthOk + kSessionStart + kReady);
  EXPECT_EQ(done->farewell(), kTerminate);
}

TEST(PgsqlDialogTest, ErrorResponseIsDownWithTheServersWords) {
  const std::string starting =
      errorResponse("FATAL", "57P03", "the database system is starting up");
  const PgsqlOutcome o = expectSplitsAgree(dialogFor(""), starting);
  EXPECT_TRUE(isDown(o));
  EXPECT_EQ(o.verdict.reason, "login refused: FATAL 57P03 the database system is starting up");
  // Trust, then the database is not there.
  const PgsqlOutcome missing = expectSplitsAgree(
      dialogFor(""),
      kAuthOk + errorResponse("FATAL", "3D000", "database \"nosuchdb\" does not exist"));
  EXPECT_TRUE(isDown(missing));
  EXPECT_NE(missing.verdict.reason.find("nosuchdb\" does not exist"), std::string::npos);
  auto dialog = dialogFor("")();
  (void)feed(*dialog, kAuthOk + errorResponse("FATAL", "3D000", "no"));
  EXPECT_EQ(dialog->farewell(), "");  // the server closed the session after FATAL
}

TEST(PgsqlDialogTest, Truncated) {
  const std::string error = errorResponse("FATAL", "53300", "too many clients already");
  for (std::size_t n = 0; n < error.size(); ++n) {
    auto dialog = dialogFor("")();
    EXPECT_TRUE(needsMore(feed(*dialog, error.substr(0, n)))) << n;
  }
  auto dialog = dialogFor("")();
  EXPECT_TRUE(needsMore(feed(*dialog, "R\x00\x00"s)));
  EXPECT_TRUE(needsMore(feed(*dialog, "\x00\x0c\x00\x00\x00\x05sa"s)));
  EXPECT_TRUE(isUp(feed(*dialog, "lt"s)));
}

TEST(PgsqlDialogTest, NotPostgres) {
  EXPECT_TRUE(isDown(expectSplitsAgree(dialogFor(""), "+PONG\r\n")));
  EXPECT_TRUE(isDown(expectSplitsAgree(dialogFor(""), "HTTP/1.1 400 Bad Request\r\n\r\n")));
  EXPECT_TRUE(isDown(expectSplitsAgree(dialogFor(""), "R\xff\xff\xff\xff"s)));
  EXPECT_TRUE(isDown(expectSplitsAgree(dialogFor(""), "R\x00\x00\x00\x02"s)));
  // ReadyForQuery with no login before it.
  EXPECT_TRUE(isDown(expectSplitsAgree(dialogFor(""), kReady)));
  // A DataRow outside a query.
  EXPECT_TRUE(isDown(expectSplitsAgree(dialogFor(""), kAuthOk + msg('D', "\0\0"s))));
}

TEST(PgsqlDialogTest, Md5Login) {
  // "md5" + md5(hex(md5("s3cret" + "alice")) + salt), computed with Python's hashlib.
  const std::string password = msg('p', "md5b79948bbeb35dee03ab8fe15a839030b\0"s);
  auto make = dialogFor("s3cret");
  const PgsqlOutcome asked = expectSplitsAgree(make, auth(5, "\x01\x02\x03\x04"s));
  EXPECT_TRUE(needsMore(asked));
  EXPECT_EQ(asked.sent, password);
  const PgsqlOutcome o =
      expectSplitsAgree(make, auth(5, "\x01\x02\x03\x04"s) + kAuthOk + kSessionStart + kReady);
  EXPECT_TRUE(isUp(o));
  EXPECT_EQ(o.verdict.reason, "ReadyForQuery (login: md5)");
  EXPECT_EQ(o.sent, password);
}

TEST(PgsqlDialogTest, WrongPasswordIsDownWithoutThePassword) {
  const PgsqlOutcome o = expectSplitsAgree(
      dialogFor("s3cret"),
      auth(5, "\x01\x02\x03\x04"s) +
          errorResponse("FATAL", "28P01", "password authentication failed for user \"alice\""));
  EXPECT_TRUE(isDown(o));
  EXPECT_EQ(o.verdict.reason,
            "login refused: FATAL 28P01 password authentication failed for user \"alice\"");
  EXPECT_EQ(o.verdict.reason.find("s3cret"), std::string::npos);
}

// A SCRAM-SHA-256 login with the RFC 7677 salt, iteration count and nonces, for the user name
// PostgreSQL's clients send (empty: the startup message names the role). Expected values from
// an independent Python computation (hashlib.pbkdf2_hmac, hmac).
const std::string kSasl = auth(10, "SCRAM-SHA-256-PLUS\0SCRAM-SHA-256\0\0"s);
const std::string kScramServerFirst =
    "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
const std::string kSaslInitial =
    msg('p', "SCRAM-SHA-256\0"s + be32(28) + "n,,n=,r=rOprNGfwEbeRWgbNEkqO");
const std::string kSaslResponse = msg('p',
                                      "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,"
                                      "p=qvT2SWdEH5Q06albL+hjSYuUhCG7VndFyzIb7CK4n9k=");
const std::string kScramServerFinal = auth(12, "v=3HO6Qt1M4MKJrmlKaoOqLAI0/0TV0HZe7J9H3MBtSOg=");

TEST(PgsqlDialogTest, ScramLoginThenRole) {
  auto make = dialogFor("pencil", Role::kPrimary);
  EXPECT_EQ(expectSplitsAgree(make, kSasl).sent, kSaslInitial);
  EXPECT_EQ(expectSplitsAgree(make, kSasl + auth(11, kScramServerFirst)).sent,
            kSaslInitial + kSaslResponse);
  const std::string login =
      kSasl + auth(11, kScramServerFirst) + kScramServerFinal + kAuthOk + kSessionStart;
  const PgsqlOutcome asked = expectSplitsAgree(make, login + kReady);
  EXPECT_TRUE(needsMore(asked));
  EXPECT_EQ(asked.sent, kSaslInitial + kSaslResponse + kRecoveryQuery);
  const PgsqlOutcome o = expectSplitsAgree(make, login + kReady + queryAnswer('f'));
  EXPECT_TRUE(isUp(o));
  EXPECT_EQ(o.verdict.reason, "role is primary (pg_is_in_recovery = f)");
  auto dialog = make();
  (void)feed(*dialog, login + kReady + queryAnswer('f'));
  EXPECT_EQ(dialog->farewell(), kTerminate);
}

TEST(PgsqlDialogTest, ScramBadServerSignatureIsDown) {
  const PgsqlOutcome o = expectSplitsAgree(
      dialogFor("pencil"), kSasl + auth(11, kScramServerFirst) +
                               auth(12, "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=") +
                               kAuthOk + kReady);
  EXPECT_TRUE(isDown(o));
  EXPECT_NE(o.verdict.reason.find("server signature does not match"), std::string::npos)
      << o.verdict.reason;
}

TEST(PgsqlDialogTest, ScramSkippedByTheServerIsDown) {
  // AuthenticationOk straight after our proof: a server that never proved it knows the password.
  const PgsqlOutcome o = expectSplitsAgree(dialogFor("pencil"),
                                           kSasl + auth(11, kScramServerFirst) + kAuthOk + kReady);
  EXPECT_TRUE(isDown(o));
  EXPECT_NE(o.verdict.reason.find("without a verified SCRAM"), std::string::npos);
}

TEST(PgsqlDialogTest, ScramOnlyWithChannelBindingIsDown) {
  const PgsqlOutcome o =
      expectSplitsAgree(dialogFor("pencil"), auth(10, "SCRAM-SHA-256-PLUS\0\0"s));
  EXPECT_TRUE(isDown(o));
  EXPECT_NE(o.verdict.reason.find("SCRAM-SHA-256-PLUS only"), std::string::npos)
      << o.verdict.reason;
}

TEST(PgsqlDialogTest, RoleDiffersIsDown) {
  auto make = dialogFor("", Role::kReplica);  // trust: no password needed
  const PgsqlOutcome o =
      expectSplitsAgree(make, kAuthOk + kSessionStart + kReady + queryAnswer('f'));
  EXPECT_TRUE(isDown(o));
  EXPECT_EQ(o.verdict.reason, "role is primary (pg_is_in_recovery = f), pool wants replica");
  EXPECT_EQ(o.sent, kRecoveryQuery);
  auto dialog = make();
  (void)feed(*dialog, kAuthOk + kSessionStart + kReady + queryAnswer('f'));
  EXPECT_EQ(dialog->farewell(), kTerminate);  // the session is still open
  const PgsqlOutcome replica =
      expectSplitsAgree(make, kAuthOk + kSessionStart + kReady + queryAnswer('t'));
  EXPECT_TRUE(isUp(replica));
  EXPECT_EQ(replica.verdict.reason, "role is replica (pg_is_in_recovery = t)");
}

TEST(PgsqlDialogTest, RoleWithoutPasswordWhenOneIsAskedIsDown) {
  const PgsqlOutcome o = expectSplitsAgree(dialogFor("", Role::kPrimary), auth(5, "salt"));
  EXPECT_TRUE(isDown(o));
  EXPECT_NE(o.verdict.reason.find("no password_file"), std::string::npos) << o.verdict.reason;
}

TEST(PgsqlDialogTest, QueryErrorIsDownAndStillTerminates) {
  auto make = dialogFor("", Role::kPrimary);
  const std::string bytes = kAuthOk + kReady +
                            errorResponse("ERROR", "42883",
                                          "function pg_is_in_recovery() does "
                                          "not exist") +
                            kReady;
  const PgsqlOutcome o = expectSplitsAgree(make, bytes);
  EXPECT_TRUE(isDown(o));
  EXPECT_EQ(o.verdict.reason,
            "query failed: ERROR 42883 function pg_is_in_recovery() does not exist");
  auto dialog = make();
  (void)feed(*dialog, bytes);
  EXPECT_EQ(dialog->farewell(), kTerminate);
}

TEST(PgsqlDialogTest, OddQueryAnswers) {
  auto make = dialogFor("", Role::kPrimary);
  const std::string login = kAuthOk + kReady;
  EXPECT_TRUE(isDown(expectSplitsAgree(make, login + msg('C', "SELECT 0\0"s) + kReady)));
  EXPECT_TRUE(
      isDown(expectSplitsAgree(make, login + msg('D', "\0\x01\xff\xff\xff\xff"s) + kReady)));
  EXPECT_TRUE(isDown(expectSplitsAgree(make, login + msg('D', "\0\x01"s + be32(3) + "yes"))));
  EXPECT_TRUE(isDown(expectSplitsAgree(make, login + msg('D', "\0\x02"s + be32(1) + "t"))));
}

TEST(PgsqlDialogTest, CleartextIsRefused) {
  const PgsqlOutcome o = expectSplitsAgree(dialogFor("s3cret"), auth(3));
  EXPECT_TRUE(isDown(o));
  EXPECT_TRUE(o.sent.empty());
  EXPECT_NE(o.verdict.reason.find("cleartext"), std::string::npos);
}

}  // namespace
}  // namespace l4lb::proto
