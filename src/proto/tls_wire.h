#pragma once

#include <cstddef>
#include <cstdint>

// Numbers from the TLS registries that both the ClientHello reader (SNI routing) and the TLS
// health check's own ClientHello and ServerHello parser use.
namespace l4lb::proto::tls {

// Record content types and handshake message types (RFC 8446 5.1, 4).
inline constexpr std::uint8_t kRecordAlert = 21;
inline constexpr std::uint8_t kRecordHandshake = 22;
inline constexpr std::uint8_t kClientHello = 1;
inline constexpr std::uint8_t kServerHello = 2;

inline constexpr std::size_t kRecordHeaderBytes = 5;
inline constexpr std::size_t kMaxPlaintext = std::size_t{1} << 14;  // RFC 8446 5.1

// Extension types (IANA "TLS ExtensionType Values").
inline constexpr std::uint16_t kExtServerName = 0;
inline constexpr std::uint16_t kExtSupportedGroups = 10;
inline constexpr std::uint16_t kExtEcPointFormats = 11;
inline constexpr std::uint16_t kExtSignatureAlgorithms = 13;
inline constexpr std::uint16_t kExtAlpn = 16;
inline constexpr std::uint16_t kExtSupportedVersions = 43;
inline constexpr std::uint16_t kExtKeyShare = 51;
inline constexpr std::uint16_t kExtRenegotiationInfo = 0xff01;

inline constexpr std::uint8_t kNameTypeHostName = 0;  // RFC 6066 3
inline constexpr std::uint16_t kGroupX25519 = 0x001d;

}  // namespace l4lb::proto::tls
