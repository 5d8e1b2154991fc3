#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "proto/check_dialog.h"
#include "proto/check_reply.h"

// The tls health check: a ClientHello like a browser's (TLS 1.3 with 1.2 fallback), judged by
// the first handshake message the server answers with. The handshake is never finished: a
// ServerHello shows a TLS stack that has a certificate for the name and agrees on a cipher.
namespace l4lb::proto {

// A ClientHello in one record: record version 0x0301 and legacy_version 0x0303 (RFC 8446 4.1.2,
// D.4), a 32-byte session id (middlebox compatibility), TLS 1.3 and 1.2 AEAD cipher suites,
// server_name when `sni` is not empty, supported_versions (1.3, 1.2), supported_groups (x25519,
// secp256r1, secp384r1), signature_algorithms and an x25519 key_share. The random, the session
// id and the key share come from `seed`. The key share is 32 random bytes, not a key whose
// private half anyone holds: any 32 bytes are a valid x25519 public key (RFC 7748 5), and the
// handshake stops at the ServerHello, before the shared secret would be used.
[[nodiscard]] std::string tlsClientHello(std::string_view sni, std::uint64_t seed);

// The server's first records, as far as received: up when the first handshake message is a
// ServerHello (a HelloRetryRequest too: the server speaks TLS 1.3 and only wants another group);
// down on an alert ("alert 112 unrecognized_name"), a record that is not TLS, or a handshake
// message other than a ServerHello; need more until the ServerHello is complete. The handshake
// message may span records (RFC 8446 5.1).
[[nodiscard]] CheckVerdict parseTlsServerHello(std::string_view reply);

// "unrecognized_name" for 112; "unknown" for a code no RFC assigns.
[[nodiscard]] std::string_view tlsAlertName(std::uint8_t description);

// One tls check: opening() is the ClientHello, the verdict comes from parseTlsServerHello, and
// the connection is then closed without a farewell (a client giving up on a handshake sends
// nothing; a close_notify before the handshake is done would mean nothing to the server).
class TlsCheckDialog final : public CheckDialog {
 public:
  TlsCheckDialog(std::string sni, std::uint64_t seed) : sni_(std::move(sni)), seed_(seed) {}

  [[nodiscard]] std::string opening() override { return tlsClientHello(sni_, seed_); }
  [[nodiscard]] DialogStep onReceived(std::string_view received) override;

 private:
  std::string sni_;
  std::uint64_t seed_;
  std::string reply_;
};

}  // namespace l4lb::proto
