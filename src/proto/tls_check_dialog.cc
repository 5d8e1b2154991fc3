#include "proto/tls_check_dialog.h"

#include <fmt/format.h>

#include <array>
#include <cctype>

#include "proto/tls_wire.h"
#include "proto/wire_read.h"

namespace l4lb::proto {

namespace {

// A record's payload may be up to 2^14 bytes, plus expansion when protected (RFC 8446 5.2).
constexpr std::size_t kMaxRecord = 16384 + 256;
// ServerHellos are about a hundred bytes; a HelloRetryRequest cookie makes one larger.
constexpr std::size_t kMaxServerHello = 16384;
// version, random, session id length, cipher suite, compression method.
constexpr std::size_t kMinServerHello = 2 + 32 + 1 + 2 + 1;

// SHA-256("HelloRetryRequest"): the random of a ServerHello that is a HelloRetryRequest
// (RFC 8446 4.1.3).
constexpr std::array<std::uint8_t, 32> kHelloRetryRandom = {
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91,
    0xc2, 0xa2, 0x11, 0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c};

struct CipherSuite {
  std::uint16_t id;
  std::string_view name;
};

// What the ClientHello offers, in order of preference: the TLS 1.3 suites, then ECDHE and plain
// RSA suites for TLS 1.2 servers.
constexpr std::array<CipherSuite, 15> kCipherSuites = {{
    {0x1301, "TLS_AES_128_GCM_SHA256"},
    {0x1302, "TLS_AES_256_GCM_SHA384"},
    {0x1303, "TLS_CHACHA20_POLY1305_SHA256"},
    {0xc02b, "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256"},
    {0xc02f, "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"},
    {0xc02c, "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384"},
    {0xc030, "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"},
    {0xcca9, "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256"},
    {0xcca8, "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256"},
    {0xc013, "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA"},
    {0xc014, "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA"},
    {0x009c, "TLS_RSA_WITH_AES_128_GCM_SHA256"},
    {0x009d, "TLS_RSA_WITH_AES_256_GCM_SHA384"},
    {0x002f, "TLS_RSA_WITH_AES_128_CBC_SHA"},
    {0x0035, "TLS_RSA_WITH_AES_256_CBC_SHA"},
}};

// ecdsa_secp256r1_sha256, rsa_pss_rsae_sha256, rsa_pkcs1_sha256, ecdsa_secp384r1_sha384,
// rsa_pss_rsae_sha384, rsa_pkcs1_sha384, rsa_pss_rsae_sha512, rsa_pkcs1_sha512, ed25519.
constexpr std::array<std::uint16_t, 9> kSignatureAlgorithms = {
    0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601, 0x0807};

constexpr std::array<std::uint16_t, 3> kGroups = {tls::kGroupX25519, 0x0017, 0x0018};

std::uint64_t splitMix(std::uint64_t& state) {
  std::uint64_t z = (state += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void put8(std::string& out, std::size_t value) { out.push_back(static_cast<char>(value & 0xff)); }
void put16(std::string& out, std::size_t value) {
  put8(out, value >> 8);
  put8(out, value);
}
void put24(std::string& out, std::size_t value) {
  put8(out, value >> 16);
  put16(out, value);
}

void putRandom(std::string& out, std::size_t count, std::uint64_t& state) {
  while (count > 0) {
    std::uint64_t word = splitMix(state);
    for (int i = 0; i < 8 && count > 0; ++i, --count) {
      put8(out, word);
      word >>= 8;
    }
  }
}

void putExtension(std::string& out, std::uint16_t type, std::string_view body) {
  put16(out, type);
  put16(out, body.size());
  out.append(body);
}

std::string_view versionName(std::size_t version) {
  switch (version) {
    case 0x0300: return "SSL 3.0";
    case 0x0301: return "TLS 1.0";
    case 0x0302: return "TLS 1.1";
    case 0x0303: return "TLS 1.2";
    case 0x0304: return "TLS 1.3";
    default: return "an unknown version";
  }
}

std::string cipherName(std::size_t id) {
  for (const CipherSuite& suite : kCipherSuites) {
    if (suite.id == id) return std::string(suite.name);
  }
  return fmt::format("cipher suite 0x{:04x}", id);
}

std::string_view handshakeTypeName(std::uint8_t type) {
  switch (type) {
    case 0: return "hello_request";
    case tls::kClientHello: return "client_hello";
    case 4: return "new_session_ticket";
    case 8: return "encrypted_extensions";
    case 11: return "certificate";
    case 12: return "server_key_exchange";
    case 13: return "certificate_request";
    case 14: return "server_hello_done";
    case 20: return "finished";
    default: return "unknown";
  }
}

// The first bytes of something that is not TLS, printable, for the log.
std::string notTls(std::string_view reply) {
  std::string shown;
  for (char c : reply.substr(0, 16)) {
    const auto byte = static_cast<unsigned char>(c);
    shown += std::isprint(byte) != 0 ? std::string(1, c) : fmt::format("\\x{:02x}", byte);
  }
  return fmt::format("not TLS: the reply starts \"{}\"", shown);
}

// The ServerHello body (after the 4-byte handshake header), complete.
CheckVerdict judgeServerHello(std::string_view body) {
  if (body.size() < kMinServerHello) return CheckVerdict::down("malformed ServerHello");
  const std::size_t legacy_version = read16(body, 0);
  if ((legacy_version >> 8) != 3) {
    return CheckVerdict::down(fmt::format("ServerHello of version 0x{:04x}", legacy_version));
  }
  const bool retry = body.substr(2, 32) ==
                     std::string_view(reinterpret_cast<const char*>(kHelloRetryRandom.data()),
                                      kHelloRetryRandom.size());
  std::size_t at = 2 + 32;
  const std::size_t session_id = byteAt(body, at);
  at += 1 + session_id;
  if (session_id > 32 || at + 3 > body.size()) return CheckVerdict::down("malformed ServerHello");
  const std::size_t cipher = read16(body, at);
  at += 3;
  std::size_t version = legacy_version;
  // TLS 1.2 servers may leave the extensions out altogether.
  if (at < body.size()) {
    if (at + 2 > body.size() || at + 2 + read16(body, at) != body.size()) {
      return CheckVerdict::down("malformed ServerHello extensions");
    }
    at += 2;
    while (at < body.size()) {
      if (at + 4 > body.size()) return CheckVerdict::down("malformed ServerHello extensions");
      const std::size_t type = read16(body, at);
      const std::size_t length = read16(body, at + 2);
      at += 4;
      if (at + length > body.size()) {
        return CheckVerdict::down("malformed ServerHello extensions");
      }
      if (type == tls::kExtSupportedVersions && length == 2) version = read16(body, at);
      at += length;
    }
  }
  if (retry) {
    // The server speaks TLS 1.3 and would go on with another key share group: as alive as a
    // ServerHello shows it to be.
    return CheckVerdict::up(
        fmt::format("HelloRetryRequest, {}, {}", versionName(version), cipherName(cipher)));
  }
  return CheckVerdict::up(
      fmt::format("ServerHello, {}, {}", versionName(version), cipherName(cipher)));
}

// The handshake bytes received so far, from however many records they came in.
CheckVerdict judgeHandshake(std::string_view handshake) {
  if (handshake.empty()) return CheckVerdict::needMore();
  const std::uint8_t type = byteAt(handshake, 0);
  if (type != tls::kServerHello) {
    // An echo server sends our own ClientHello back.
    return CheckVerdict::down(fmt::format("handshake message {} ({}) instead of a ServerHello",
                                          type, handshakeTypeName(type)));
  }
  if (handshake.size() < 4) return CheckVerdict::needMore();
  const std::size_t length = (std::size_t{byteAt(handshake, 1)} << 16) | read16(handshake, 2);
  if (length < kMinServerHello || length > kMaxServerHello) {
    return CheckVerdict::down(fmt::format("ServerHello of {} bytes", length));
  }
  if (handshake.size() < 4 + length) return CheckVerdict::needMore();
  return judgeServerHello(handshake.substr(4, length));
}

}  // namespace

std::string_view tlsAlertName(std::uint8_t description) {
  switch (description) {
    case 0: return "close_notify";
    case 10: return "unexpected_message";
    case 20: return "bad_record_mac";
    case 22: return "record_overflow";
    case 40: return "handshake_failure";
    case 42: return "bad_certificate";
    case 43: return "unsupported_certificate";
    case 44: return "certificate_revoked";
    case 45: return "certificate_expired";
    case 46: return "certificate_unknown";
    case 47: return "illegal_parameter";
    case 48: return "unknown_ca";
    case 49: return "access_denied";
    case 50: return "decode_error";
    case 51: return "decrypt_error";
    case 70: return "protocol_version";
    case 71: return "insufficient_security";
    case 80: return "internal_error";
    case 86: return "inappropriate_fallback";
    case 90: return "user_canceled";
    case 109: return "missing_extension";
    case 110: return "unsupported_extension";
    case 112: return "unrecognized_name";
    case 113: return "bad_certificate_status_response";
    case 115: return "unknown_psk_identity";
    case 116: return "certificate_required";
    case 120: return "no_application_protocol";
    default: return "unknown";
  }
}

std::string tlsClientHello(std::string_view sni, std::uint64_t seed) {
  std::uint64_t state = seed;
  std::string extensions;
  if (!sni.empty()) {
    std::string names;
    put8(names, 0);  // host_name
    put16(names, sni.size());
    names.append(sni);
    std::string body;
    put16(body, names.size());
    body += names;
    putExtension(extensions, tls::kExtServerName, body);
  }
  std::string body;
  put16(body, kGroups.size() * 2);
  for (std::uint16_t group : kGroups) put16(body, group);
  putExtension(extensions, tls::kExtSupportedGroups, body);
  putExtension(extensions, tls::kExtEcPointFormats,
               std::string_view("\x01\x00", 2));  // uncompressed
  body.clear();
  put16(body, kSignatureAlgorithms.size() * 2);
  for (std::uint16_t algorithm : kSignatureAlgorithms) put16(body, algorithm);
  putExtension(extensions, tls::kExtSignatureAlgorithms, body);
  putExtension(extensions, tls::kExtSupportedVersions, std::string_view("\x04\x03\x04\x03\x03", 5));
  body.clear();
  put16(body, 2 + 2 + 32);
  put16(body, tls::kGroupX25519);
  put16(body, 32);
  putRandom(body, 32, state);
  putExtension(extensions, tls::kExtKeyShare, body);
  putExtension(extensions, tls::kExtRenegotiationInfo, std::string_view("\x00", 1));

  std::string hello;
  put16(hello, 0x0303);
  putRandom(hello, 32, state);
  put8(hello, 32);
  putRandom(hello, 32, state);
  put16(hello, kCipherSuites.size() * 2);
  for (const CipherSuite& suite : kCipherSuites) put16(hello, suite.id);
  put8(hello, 1);
  put8(hello, 0);  // null compression
  put16(hello, extensions.size());
  hello += extensions;

  std::string record;
  put8(record, tls::kRecordHandshake);
  put16(record, 0x0301);
  put16(record, 4 + hello.size());
  put8(record, tls::kClientHello);
  put24(record, hello.size());
  record += hello;
  return record;
}

CheckVerdict parseTlsServerHello(std::string_view reply) {
  std::string handshake;
  std::size_t at = 0;
  while (at < reply.size()) {
    // Each header byte is judged as soon as it is here, so a plain-text reply ("HTTP/1.1 400",
    // "SSH-2.0") is down at its first byte.
    const std::uint8_t type = byteAt(reply, at);
    if (type != tls::kRecordHandshake && type != tls::kRecordAlert) {
      if (at == 0 && type != 20 && type != 23) return CheckVerdict::down(notTls(reply));
      return CheckVerdict::down(fmt::format("record of type {} before a ServerHello", type));
    }
    if (at + 1 < reply.size() && byteAt(reply, at + 1) != 3)
      return CheckVerdict::down(notTls(reply));
    if (at + 5 > reply.size()) return CheckVerdict::needMore();
    const std::size_t length = read16(reply, at + 3);
    if (length == 0 || length > kMaxRecord) {
      return CheckVerdict::down(fmt::format("TLS record of {} bytes", length));
    }
    const std::string_view payload = reply.substr(at + 5, length);  // maybe cut short
    if (type == tls::kRecordAlert) {
      if (payload.size() < 2) {
        return length < 2 ? CheckVerdict::down("malformed alert") : CheckVerdict::needMore();
      }
      const std::uint8_t level = byteAt(payload, 0);
      const std::uint8_t description = byteAt(payload, 1);
      return CheckVerdict::down(fmt::format("alert {} {}{}", description, tlsAlertName(description),
                                            level == 1 ? " (warning)" : ""));
    }
    handshake.append(payload);
    CheckVerdict verdict = judgeHandshake(handshake);
    if (verdict.status != CheckStatus::kNeedMore || payload.size() < length) return verdict;
    at += 5 + length;
  }
  return CheckVerdict::needMore();
}

DialogStep TlsCheckDialog::onReceived(std::string_view received) {
  reply_.append(received);
  return {parseTlsServerHello(reply_), {}};
}

}  // namespace l4lb::proto
