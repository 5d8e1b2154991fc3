#include "proto/mysql_dialog.h"

#include <gtest/gtest.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "hex.h"
#include "proto/mysql_auth.h"
#include "verdicts.h"

namespace l4lb::proto {
namespace {

using namespace std::string_literals;

std::string toHex(std::string_view bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  for (const char c : bytes) {
    out += kDigits[static_cast<unsigned char>(c) >> 4];
    out += kDigits[static_cast<unsigned char>(c) & 0xf];
  }
  return out;
}

// Recorded from MariaDB 10.11.19 (Debian 12) on 127.0.0.1: the greeting, the reply to a login
// as 'rec' with a wrong password, and the result set of SELECT @@global.read_only (0).
const std::string kGreeting = fromHex(
    "640000000a352e352e352d31302e31312e31392d4d6172696144422d302b64656231327531000700"
    "000037275a714b60253100fef7080200ff81150000000000001d000000693c307b3d5c363b636244"
    "6c006d7973716c5f6e61746976655f70617373776f726400");
const std::string kGreetingNonce = "7'ZqK`%1i<0{=\\6;cbDl";
const std::string kLoginOk = "\x07\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00"s;
const std::string kAccessDenied = fromHex(
    "47000002ff15042332383030304163636573732064656e69656420666f7220757365722027726563"
    "2740276c6f63616c686f73742720287573696e672070617373776f72643a2059455329");
const std::string kReadOnly0 = fromHex(
    "01000001012800000203646566000000124040676c6f62616c2e726561645f6f6e6c79000c3f0001"
    "00000008800000000005000003fe0000020002000004013005000005fe00000200");
// The same result set saying read_only = 1.
std::string readOnly1() {
  std::string result = kReadOnly0;
  const std::size_t row = result.find("\x02\x00\x00\x04\x01\x30"s);
  result[row + 5] = '1';
  return result;
}

// Reference values from Python's hashlib with the documented formulas, password "secret".
constexpr std::string_view kNativeScrambleHex = "52593404afba15d088ef4da76e5676e7d7303eb8";
constexpr std::string_view kSha2Nonce = "0123456789abcdefghij";
constexpr std::string_view kSha2ScrambleHex =
    "7e4adda2f2d5ef09b4147518becb0cee2939376203650a8c2bb2815959364bd0";

const std::string kComQuit = "\x01\x00\x00\x00\x01"s;
const std::string kReadOnlyQuery = mysqlPacket(0, "\x03SELECT @@global.read_only");

// A server built from packets: 3-byte length, sequence, payload.
std::string packet(std::uint8_t sequence, std::string_view payload) {
  return mysqlPacket(sequence, payload);
}

std::string errPacket(std::uint8_t sequence, unsigned code, std::string_view message) {
  std::string payload = "\xff"s;
  payload += static_cast<char>(code & 0xff);
  payload += static_cast<char>(code >> 8);
  payload += "#HY000";
  payload += message;
  return packet(sequence, payload);
}

// A HandshakeV10 as MySQL 8 sends it, proposing `plugin` with a 20-byte nonce.
std::string greeting(std::string_view plugin, std::string_view nonce) {
  std::string p = "\x0a"s + "8.0.36" + '\0';
  p += "\x01\x00\x00\x00"s;
  p += nonce.substr(0, 8);
  p += '\0';
  p += "\xff\xff"s;  // capabilities, low
  p += '\xff';       // charset
  p += "\x02\x00"s;  // status
  p += "\xff\xdf"s;  // capabilities, high
  p += '\x15';       // nonce length 21
  p += std::string(10, '\0');
  p += nonce.substr(8);
  p += '\0';
  p += plugin;
  p += '\0';
  return packet(0, p);
}

std::string authSwitch(std::uint8_t sequence, std::string_view plugin, std::string_view nonce) {
  return packet(sequence, "\xfe"s + std::string(plugin) + '\0' + std::string(nonce) + '\0');
}

// What a conversation did: the dialog's sends, in order, and where it ended.
struct DialogOutcome {
  std::vector<std::string> sends;
  CheckVerdict verdict;
};

// Plays the server's turns, each as one read, or split into reads of `chunk` bytes.
DialogOutcome converse(MysqlDialog& dialog, const std::vector<std::string>& turns,
                       std::size_t chunk = 0) {
  DialogOutcome out;
  for (const std::string& turn : turns) {
    std::string sent;
    const std::size_t step = chunk == 0 ? std::max<std::size_t>(turn.size(), 1) : chunk;
    for (std::size_t at = 0; at < turn.size(); at += step) {
      DialogStep s = dialog.onReceived(std::string_view(turn).substr(at, step));
      sent += s.send;
      if (!needsMore(s.verdict)) {
        out.verdict = std::move(s.verdict);
        if (!sent.empty()) out.sends.push_back(sent);
        return out;
      }
    }
    out.sends.push_back(sent);
  }
  return out;
}

// The same conversation, whole and split byte by byte and in threes, must end the same way.
DialogOutcome converseAllWays(const std::string& user, const std::string& password, Role role,
                              const std::vector<std::string>& turns) {
  MysqlDialog whole(user, password, role);
  DialogOutcome first = converse(whole, turns);
  for (std::size_t chunk : {1, 3}) {
    MysqlDialog split(user, password, role);
    DialogOutcome again = converse(split, turns, chunk);
    EXPECT_EQ(again.verdict.status, first.verdict.status) << "reads of " << chunk;
    EXPECT_EQ(again.verdict.reason, first.verdict.reason) << "reads of " << chunk;
    EXPECT_EQ(again.sends, first.sends) << "reads of " << chunk;
  }
  return first;
}

TEST(MysqlDialogTest, GreetingWithoutUserIsUp) {
  MysqlDialog dialog("", "", Role::kAny);
  EXPECT_EQ(dialog.opening(), "");
  const DialogOutcome out = converseAllWays("", "", Role::kAny, {kGreeting});
  EXPECT_TRUE(isUp(out.verdict));
  EXPECT_EQ(out.verdict.reason, "mysql 5.5.5-10.11.19-MariaDB-0+deb12u1");
  EXPECT_TRUE(out.sends.empty());
  (void)dialog.onReceived(kGreeting);
  EXPECT_EQ(dialog.farewell(), "") << "no session to end";
}

TEST(MysqlDialogTest, TruncatedGreetingNeedsMore) {
  for (std::size_t n = 0; n < kGreeting.size(); ++n) {
    MysqlDialog dialog("rec", "secret", Role::kPrimary);
    const DialogStep step = dialog.onReceived(std::string_view(kGreeting).substr(0, n));
    EXPECT_TRUE(needsMore(step.verdict)) << n << " bytes: " << step.verdict.reason;
    EXPECT_EQ(step.send, "") << n << " bytes";
  }
}

TEST(MysqlDialogTest, GreetingErrorIsDown) {
  // What a server that has blocked l4lb's host greets with (error 1129, no SQL state).
  const std::string blocked =
      packet(0, "\xff\x69\x04Host '192.0.2.2' is blocked because of many connection errors"s);
  const DialogOutcome out = converseAllWays("", "", Role::kAny, {blocked});
  EXPECT_TRUE(isDown(out.verdict));
  EXPECT_EQ(out.verdict.reason,
            "server refused the connection: 1129 Host '192.0.2.2' is blocked because of many "
            "connection errors");
  MysqlDialog dialog("", "", Role::kAny);
  EXPECT_TRUE(needsMore(dialog.onReceived(blocked.substr(0, 8)).verdict));
}

TEST(MysqlDialogTest, NotMysqlIsDownAtOnce) {
  for (const std::string& reply : {"+PONG\r\n"s, "HTTP/1.1 400 Bad Request\r\n\r\n"s,
                                   "\x05\x00\x00\x00\x0b\x01\x02\x03\x04"s}) {
    MysqlDialog dialog("", "", Role::kAny);
    const DialogStep step = dialog.onReceived(reply);
    EXPECT_TRUE(isDown(step.verdict)) << reply;
    EXPECT_NE(step.verdict.reason.find("not a mysql greeting"), std::string::npos)
        << step.verdict.reason;
  }
  MysqlDialog dialog("", "", Role::kAny);
  EXPECT_TRUE(needsMore(dialog.onReceived("\x5a\x00"s).verdict));
  // A packet no check would ever need.
  MysqlDialog huge("", "", Role::kAny);
  const DialogStep step = huge.onReceived("\xff\xff\x0f\x00\x0a"s);
  EXPECT_EQ(step.verdict.reason, "mysql packet of 1048575 bytes, more than a check reads");
}

TEST(MysqlDialogTest, EndsTheSameHoweverTheBytesAreSplit) {
  // Found by mysql_dialog_fuzz: a reason once quoted as many bytes as had arrived, and a
  // verdict dropped what earlier packets of the same read had asked to send.
  for (const std::string& reply : {"+PONG\r\n"s, "HTTP/1.1 400 Bad Request\r\n\r\n"s,
                                   "\x08\x00\x00\x00\x01j\x04"
                                   "abcde"s,
                                   "\xff\xff\xff\x00\x0a"s}) {
    EXPECT_TRUE(isDown(converseAllWays("", "", Role::kAny, {reply}).verdict)) << reply;
  }
  const DialogOutcome both = converseAllWays("l4lb", "", Role::kAny, {kGreeting + kLoginOk});
  EXPECT_TRUE(isUp(both.verdict)) << both.verdict.reason;
  ASSERT_EQ(both.sends.size(), 1U);
  EXPECT_NE(both.sends[0].find("l4lb\0\0mysql_native_password\0"s), std::string::npos);
}

TEST(MysqlDialogTest, NativePasswordLogin) {
  const DialogOutcome out = converseAllWays("rec", "secret", Role::kAny, {kGreeting, kLoginOk});
  ASSERT_TRUE(isUp(out.verdict)) << out.verdict.reason;
  EXPECT_EQ(out.verdict.reason, "mysql login OK as 'rec' (5.5.5-10.11.19-MariaDB-0+deb12u1)");
  ASSERT_EQ(out.sends.size(), 1U);
  const std::string& login = out.sends[0];
  ASSERT_GE(login.size(), 4U + 32U);
  EXPECT_EQ(static_cast<unsigned char>(login[0]), login.size() - 4);
  EXPECT_EQ(login[3], '\x01') << "answers the greeting (sequence 0)";
  EXPECT_EQ(login.substr(4, 4), "\x01\x82\x08\x00"s) << "capabilities";
  const std::string expected =
      "rec\0\x14"s + fromHex(kNativeScrambleHex) + "mysql_native_password\0"s;
  EXPECT_EQ(login.substr(4 + 32), expected) << toHex(login);

  MysqlDialog dialog("rec", "secret", Role::kAny);
  (void)dialog.onReceived(kGreeting);
  EXPECT_EQ(dialog.farewell(), "") << "not logged in yet";
  (void)dialog.onReceived(kLoginOk);
  EXPECT_EQ(dialog.farewell(), kComQuit);
}

TEST(MysqlDialogTest, WrongPasswordIsDownWithTheServersWords) {
  const DialogOutcome out =
      converseAllWays("rec", "wrong-secret", Role::kPrimary, {kGreeting, kAccessDenied});
  ASSERT_TRUE(isDown(out.verdict));
  EXPECT_EQ(out.verdict.reason,
            "login refused: 1045 Access denied for user 'rec'@'localhost' (using password: YES)");
  EXPECT_EQ(out.verdict.reason.find("wrong-secret"), std::string::npos);
  MysqlDialog dialog("rec", "wrong-secret", Role::kPrimary);
  (void)dialog.onReceived(kGreeting);
  (void)dialog.onReceived(kAccessDenied);
  EXPECT_EQ(dialog.farewell(), "") << "the server has closed the session";
}

TEST(MysqlDialogTest, PasswordlessLoginAnswersAnAuthSwitchEmpty) {
  const DialogOutcome out =
      converseAllWays("l4lb", "", Role::kAny,
                      {kGreeting, authSwitch(2, "mysql_native_password", "abcdefghijklmnopqrst"),
                       packet(4, "\x00\x00\x00\x02\x00\x00\x00"s)});
  ASSERT_TRUE(isUp(out.verdict)) << out.verdict.reason;
  ASSERT_EQ(out.sends.size(), 2U);
  EXPECT_NE(out.sends[0].find("l4lb\0\0mysql_native_password\0"s), std::string::npos);
  EXPECT_EQ(out.sends[1], "\x00\x00\x00\x03"s);
}

TEST(MysqlDialogTest, PrimaryRoleReadsReadOnly) {
  const DialogOutcome primary =
      converseAllWays("rec", "secret", Role::kPrimary, {kGreeting, kLoginOk, kReadOnly0});
  ASSERT_TRUE(isUp(primary.verdict)) << primary.verdict.reason;
  EXPECT_EQ(primary.verdict.reason, "role is primary (read_only = 0)");
  ASSERT_EQ(primary.sends.size(), 2U);
  EXPECT_EQ(primary.sends[1], kReadOnlyQuery);

  const DialogOutcome replica =
      converseAllWays("rec", "secret", Role::kReplica, {kGreeting, kLoginOk, kReadOnly0});
  ASSERT_TRUE(isDown(replica.verdict));
  EXPECT_EQ(replica.verdict.reason, "role is primary (read_only = 0), pool wants replica");

  const DialogOutcome swapped =
      converseAllWays("rec", "secret", Role::kPrimary, {kGreeting, kLoginOk, readOnly1()});
  ASSERT_TRUE(isDown(swapped.verdict));
  EXPECT_EQ(swapped.verdict.reason, "role is replica (read_only = 1), pool wants primary");
  EXPECT_TRUE(
      isUp(converseAllWays("rec", "secret", Role::kReplica, {kGreeting, kLoginOk, readOnly1()})
               .verdict));

  // Quits whatever the role said: the session is open.
  MysqlDialog dialog("rec", "secret", Role::kReplica);
  (void)converse(dialog, {kGreeting, kLoginOk, kReadOnly0});
  EXPECT_EQ(dialog.farewell(), kComQuit);
}

TEST(MysqlDialogTest, ResultSetIsReadToItsEnd) {
  // The verdict waits for the last EOF, so the check never closes on unread bytes (which
  // would reset the connection under the server).
  for (std::size_t n = 0; n < kReadOnly0.size(); ++n) {
    MysqlDialog dialog("rec", "secret", Role::kPrimary);
    (void)converse(dialog, {kGreeting, kLoginOk});
    const DialogStep step = dialog.onReceived(std::string_view(kReadOnly0).substr(0, n));
    EXPECT_TRUE(needsMore(step.verdict)) << n << " bytes: " << step.verdict.reason;
  }
}

TEST(MysqlDialogTest, QueryErrorsAndOddValuesAreDown) {
  const DialogOutcome denied = converseAllWays(
      "rec", "secret", Role::kPrimary,
      {kGreeting, kLoginOk, errPacket(1, 1227, "Access denied; you need the SUPER privilege")});
  ASSERT_TRUE(isDown(denied.verdict));
  EXPECT_EQ(denied.verdict.reason,
            "SELECT @@global.read_only failed: 1227 Access denied; you need the SUPER privilege");

  std::string odd = kReadOnly0;
  odd[odd.find("\x02\x00\x00\x04\x01\x30"s) + 5] = '7';
  const DialogOutcome seven =
      converseAllWays("rec", "secret", Role::kPrimary, {kGreeting, kLoginOk, odd});
  EXPECT_TRUE(isDown(seven.verdict));
  EXPECT_EQ(seven.verdict.reason, "@@global.read_only is '7', neither 0 nor 1");

  const DialogOutcome ok_only =
      converseAllWays("rec", "secret", Role::kPrimary,
                      {kGreeting, kLoginOk, packet(1, "\x00\x00\x00\x02\x00\x00\x00"s)});
  EXPECT_TRUE(isDown(ok_only.verdict));
}

TEST(MysqlDialogTest, PacketsOutOfOrderAreDown) {
  const DialogOutcome out = converseAllWays(
      "rec", "secret", Role::kAny, {kGreeting, packet(5, "\x00\x00\x00\x02\x00\x00\x00"s)});
  ASSERT_TRUE(isDown(out.verdict));
  EXPECT_EQ(out.verdict.reason, "mysql packets out of order (sequence 5, expected 2)");
}

TEST(MysqlDialogTest, CachingSha2FastAuthentication) {
  // MySQL 8 proposes caching_sha2_password; the cached proof matches (0x01 0x03), then OK,
  // both in one read.
  const DialogOutcome out =
      converseAllWays("app", "secret", Role::kAny,
                      {greeting("caching_sha2_password", kSha2Nonce),
                       packet(2, "\x01\x03"s) + packet(3, "\x00\x00\x00\x02\x00\x00\x00"s)});
  ASSERT_TRUE(isUp(out.verdict)) << out.verdict.reason;
  ASSERT_EQ(out.sends.size(), 1U);
  EXPECT_EQ(out.sends[0].substr(4 + 32),
            "app\0\x20"s + fromHex(kSha2ScrambleHex) + "caching_sha2_password\0"s)
      << toHex(out.sends[0]);
}

TEST(MysqlDialogTest, UnknownPluginsAndSecondSwitchesAreDown) {
  const DialogOutcome ed = converseAllWays("rec", "secret", Role::kAny,
                                           {kGreeting, authSwitch(2, "client_ed25519", "")});
  ASSERT_TRUE(isDown(ed.verdict));
  EXPECT_NE(ed.verdict.reason.find("'client_ed25519', which l4lb does not speak"),
            std::string::npos)
      << ed.verdict.reason;
  const DialogOutcome twice =
      converseAllWays("rec", "secret", Role::kAny,
                      {kGreeting, authSwitch(2, "mysql_native_password", kSha2Nonce),
                       authSwitch(4, "mysql_native_password", kSha2Nonce)});
  EXPECT_TRUE(isDown(twice.verdict));
  const DialogOutcome old =
      converseAllWays("rec", "secret", Role::kAny, {kGreeting, packet(2, "\xfe"s)});
  EXPECT_TRUE(isDown(old.verdict));
  EXPECT_NE(old.verdict.reason.find("pre-4.1"), std::string::npos);
}

// An RSA key pair made for the test, the public half as PEM (what MySQL sends after 0x02).
struct TestKey {
  std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)> key{EVP_RSA_gen(2048), &EVP_PKEY_free};

  std::string publicPem() const {
    std::unique_ptr<BIO, decltype(&BIO_free)> bio(BIO_new(BIO_s_mem()), &BIO_free);
    EXPECT_EQ(PEM_write_bio_PUBKEY(bio.get(), key.get()), 1);
    char* data = nullptr;
    const long size = BIO_get_mem_data(bio.get(), &data);
    return std::string(data, static_cast<std::size_t>(size));
  }

  std::string decrypt(std::string_view cipher) const {
    std::unique_ptr<EVP_PKEY_CTX, decltype(&EVP_PKEY_CTX_free)> ctx(
        EVP_PKEY_CTX_new(key.get(), nullptr), &EVP_PKEY_CTX_free);
    EXPECT_EQ(EVP_PKEY_decrypt_init(ctx.get()), 1);
    EXPECT_EQ(EVP_PKEY_CTX_set_rsa_padding(ctx.get(), RSA_PKCS1_OAEP_PADDING), 1);
    const auto* in = reinterpret_cast<const unsigned char*>(cipher.data());
    std::size_t size = 0;
    EXPECT_EQ(EVP_PKEY_decrypt(ctx.get(), nullptr, &size, in, cipher.size()), 1);
    std::string out(size, '\0');
    EXPECT_EQ(EVP_PKEY_decrypt(ctx.get(), reinterpret_cast<unsigned char*>(out.data()), &size, in,
                               cipher.size()),
              1);
    out.resize(size);
    return out;
  }
};

const TestKey& testKey() {
  static const TestKey key;
  return key;
}

TEST(MysqlDialogTest, AuthSwitchToCachingSha2WithFullAuthentication) {
  // MariaDB-style greeting proposing mysql_native_password; the account is caching_sha2 (as on
  // MySQL 8), not in the server's cache: switch, fast proof, "perform full authentication",
  // public key, encrypted password, OK; then the role query.
  MysqlDialog dialog("app", "secret", Role::kPrimary);
  DialogStep step = dialog.onReceived(kGreeting);
  ASSERT_TRUE(needsMore(step.verdict));
  EXPECT_EQ(step.send[3], '\x01');
  EXPECT_NE(step.send.find("mysql_native_password\0"s), std::string::npos);

  step = dialog.onReceived(authSwitch(2, "caching_sha2_password", kSha2Nonce));
  ASSERT_TRUE(needsMore(step.verdict)) << step.verdict.reason;
  EXPECT_EQ(step.send, packet(3, fromHex(kSha2ScrambleHex)));

  step = dialog.onReceived(packet(4, "\x01\x04"s));
  ASSERT_TRUE(needsMore(step.verdict)) << step.verdict.reason;
  EXPECT_EQ(step.send, packet(5, "\x02"s)) << "asks for the server's public key";

  const std::string pem = testKey().publicPem();
  step = dialog.onReceived(packet(6, "\x01"s + pem));
  ASSERT_TRUE(needsMore(step.verdict)) << step.verdict.reason;
  ASSERT_EQ(step.send.size(), 4U + 256U);
  EXPECT_EQ(step.send.substr(0, 4), "\x00\x01\x00\x07"s);
  std::string plain = testKey().decrypt(step.send.substr(4));
  for (std::size_t i = 0; i < plain.size(); ++i) plain[i] ^= kSha2Nonce[i % kSha2Nonce.size()];
  EXPECT_EQ(plain, "secret\0"s);

  step = dialog.onReceived(packet(8, "\x00\x00\x00\x02\x00\x00\x00"s));
  ASSERT_TRUE(needsMore(step.verdict)) << step.verdict.reason;
  EXPECT_EQ(step.send, kReadOnlyQuery);
  EXPECT_EQ(dialog.farewell(), kComQuit);
  step = dialog.onReceived(kReadOnly0);
  EXPECT_TRUE(isUp(step.verdict)) << step.verdict.reason;
}

TEST(MysqlDialogTest, FullAuthenticationFailuresAreDown) {
  const std::vector<std::string> to_key = {greeting("caching_sha2_password", kSha2Nonce),
                                           packet(2, "\x01\x04"s)};
  {
    MysqlDialog dialog("app", "secret", Role::kAny);
    (void)converse(dialog, to_key);
    const DialogStep step = dialog.onReceived(packet(4, "\x01not a key"s));
    ASSERT_TRUE(isDown(step.verdict));
    EXPECT_NE(step.verdict.reason.find("not a PEM public key"), std::string::npos)
        << step.verdict.reason;
  }
  {
    // The encrypted password is refused: the server's words, never the password.
    MysqlDialog dialog("app", "secret", Role::kAny);
    (void)converse(dialog, to_key);
    (void)dialog.onReceived(packet(4, "\x01"s + testKey().publicPem()));
    const DialogStep step = dialog.onReceived(
        errPacket(6, 1045, "Access denied for user 'app'@'10.0.0.1' (using password: YES)"));
    ASSERT_TRUE(isDown(step.verdict));
    EXPECT_EQ(step.verdict.reason,
              "login refused: 1045 Access denied for user 'app'@'10.0.0.1' (using password: YES)");
  }
  {
    // A second "perform full authentication" would loop.
    MysqlDialog dialog("app", "secret", Role::kAny);
    (void)converse(dialog, to_key);
    (void)dialog.onReceived(packet(4, "\x01"s + testKey().publicPem()));
    EXPECT_TRUE(isDown(dialog.onReceived(packet(6, "\x01\x04"s)).verdict));
  }
}

TEST(MysqlAuthTest, ScramblesMatchReferenceValues) {
  EXPECT_EQ(toHex(mysqlNativeScramble("secret", kGreetingNonce)), kNativeScrambleHex);
  EXPECT_EQ(toHex(cachingSha2Scramble("secret", kSha2Nonce)), kSha2ScrambleHex);
  EXPECT_EQ(mysqlNativeScramble("", kGreetingNonce), "");
  EXPECT_EQ(cachingSha2Scramble("", kSha2Nonce), "");
}

TEST(MysqlAuthTest, PasswordTooLongForTheKey) {
  const auto encrypted =
      cachingSha2EncryptPassword(std::string(300, 'p'), kSha2Nonce, testKey().publicPem());
  ASSERT_FALSE(encrypted);
  EXPECT_NE(encrypted.error().message().find("too long for the server's 2048-bit RSA key"),
            std::string::npos)
      << encrypted.error().message();
}

}  // namespace
}  // namespace l4lb::proto
