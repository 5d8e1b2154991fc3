#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

// The PROXY protocol, versions 1 (text) and 2 (binary), as HAProxy's doc/proxy-protocol.txt
// specifies it: a pure, budgeted parser that tells the two versions apart from their first
// bytes, and the encoders beside it.
//
// The parser is called with every byte received so far (it keeps no state) and answers done
// (with the header and its exact length: the bytes after it belong to the next layer), need
// more, not a PROXY header, or an error with the reason. A header is at most 107 bytes in
// version 1 and 16 + 65535 in version 2, so re-parsing from the start costs little.
namespace l4lb::proto {

enum class ProxyParseStatus : std::uint8_t { kNeedMore, kDone, kNotProxy, kError };
enum class ProxyVersion : std::uint8_t { kV1 = 1, kV2 = 2 };
// LOCAL: the connection was made by the proxy itself (a health check); the addresses of the
// connection are the real ones. PROXY: on behalf of the client the header names.
enum class ProxyCommand : std::uint8_t { kLocal, kProxy };
enum class ProxyTransport : std::uint8_t { kUnspec, kStream, kDgram };

// v1: "PROXY TCP6 ffff:...:ffff ffff:...:ffff 65535 65535\r\n" is the longest line (spec 2.1).
inline constexpr std::size_t kProxyV1MaxBytes = 107;
// Spec 2.2: the AF_UNIX address block is 2 x 108 bytes (decoder and encoder; one definition, as
// both files can share one unity-build unit).
inline constexpr std::size_t kUnixPathBytes = 108;
inline constexpr std::size_t kProxyV2HeaderBytes = 16;  // signature, ver/cmd, fam/proto, len
inline constexpr std::size_t kProxyV2MaxBytes = kProxyV2HeaderBytes + 65535;
// Enough bytes to tell any input from a PROXY header: the v2 signature is 12 bytes long.
inline constexpr std::size_t kProxyDetectBytes = 16;
inline constexpr std::string_view kProxyV2Signature{"\r\n\r\n\0\r\nQUIT\n", 12};

// TLV types (spec 2.2.x) this code looks into. Others pass through as opaque bytes.
inline constexpr std::uint8_t kPp2TypeAlpn = 0x01;
inline constexpr std::uint8_t kPp2TypeAuthority = 0x02;
inline constexpr std::uint8_t kPp2TypeCrc32c = 0x03;
inline constexpr std::uint8_t kPp2TypeNoop = 0x04;
inline constexpr std::uint8_t kPp2TypeUniqueId = 0x05;
inline constexpr std::size_t kPp2UniqueIdMaxBytes = 128;

// An address carried by a header. len == 0: none (LOCAL, UNKNOWN, AF_UNSPEC). Addresses are
// data: nothing here needs the host to support the family (Envoy CVE-2024-23325).
struct ProxyAddress {
  sockaddr_storage addr{};
  socklen_t len = 0;

  [[nodiscard]] int family() const { return len == 0 ? AF_UNSPEC : addr.ss_family; }
  [[nodiscard]] const sockaddr* sockaddrPtr() const {
    return reinterpret_cast<const sockaddr*>(&addr);
  }
};

struct ProxyHeader {
  ProxyVersion version = ProxyVersion::kV1;
  ProxyCommand command = ProxyCommand::kProxy;
  ProxyTransport transport = ProxyTransport::kUnspec;
  ProxyAddress source;       // the client
  ProxyAddress destination;  // the address the client connected to
  // v2 only: the TLVs after the address block, raw and checked to be a whole number of TLVs
  // ending exactly at the header's end. Binary: escape before logging (Envoy CVE-2024-23324).
  std::string tlvs;

  // False for LOCAL, v1 UNKNOWN and v2 AF_UNSPEC: use the connection's own addresses.
  [[nodiscard]] bool hasAddresses() const { return source.len != 0; }
};

struct ProxyParseResult {
  ProxyParseStatus status = ProxyParseStatus::kNeedMore;
  std::size_t consumed = 0;  // kDone: the header's length; the payload starts here
  // kNeedMore: the total bytes the header needs when known (v2 after 16 bytes), else 0.
  std::size_t wanted = 0;
  ProxyHeader header;  // kDone only
  std::string error;   // kError and kNotProxy: why, never quoting the input
};

struct ProxyParseLimits {
  // Longest v2 header accepted (16 + len). The spec allows 16 + 65535; nginx reads up to 4096.
  std::size_t max_v2_bytes = kProxyV2MaxBytes;
  // A CRC32C TLV is checked against the header when present (spec 2.2.5 lets receivers).
  bool verify_crc32c = true;
};

// Parses the header at the start of `bytes` (every byte received so far).
[[nodiscard]] ProxyParseResult parseProxyHeader(std::string_view bytes,
                                                const ProxyParseLimits& limits = {});

// "PROXY TCP4 src dst sport dport\r\n" (TCP6 when either address is IPv6, the other then
// mapped), or "PROXY UNKNOWN\r\n" when the addresses are not both IP.
[[nodiscard]] std::string encodeProxyV1(const sockaddr* source, const sockaddr* destination);

// A v2 PROXY header for two addresses: AF_INET, AF_INET6 (an IPv4 address beside an IPv6 one
// is mapped), AF_UNIX (108-byte paths; an unnamed peer has len == sizeof(sa_family_t)), or
// AF_UNSPEC when they are none of those. `tlvs` are appended as given (whole TLVs that fit in
// the 65535-byte length; the rest are dropped); a CRC32C TLV among them is recomputed for the
// new header, so a received one can be passed on and a zeroed one asks for a checksum.
[[nodiscard]] std::string encodeProxyV2(const sockaddr* source, socklen_t source_len,
                                        const sockaddr* destination, socklen_t destination_len,
                                        ProxyTransport transport, std::string_view tlvs = {});

// A v2 LOCAL header (no addresses), with optional TLVs as above.
[[nodiscard]] std::string encodeProxyV2Local(std::string_view tlvs = {});

// The CRC-32C (Castagnoli) the PP2_TYPE_CRC32C TLV carries.
[[nodiscard]] std::uint32_t crc32c(std::string_view bytes, std::uint32_t crc = 0);

}  // namespace l4lb::proto
