#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

// Reads the TLS ClientHello at the start of a client's stream to route on it, without
// decrypting or changing anything: the caller forwards every byte it fed, unchanged.
//
// The hello may be cut anywhere by TCP and fragmented across several handshake records (RFC
// 8446 5.1; post-quantum key shares make 1.6 KB hellos common: tldr.fail), so the inspector
// keeps the record-layer state between calls and reassembles the handshake message, within a
// budget. Nothing is decided on a partial hello: server_name and ALPN are read, and checked,
// only once the whole message is in (HAProxy #3148, nginx 88dc64748).
namespace l4lb::proto {

enum class ClientHelloStatus : std::uint8_t {
  kNeedMore,
  kDone,       // info() holds what the hello says
  kNotTls,     // the stream does not start with a TLS handshake record
  kMalformed,  // TLS, but the hello breaks the spec: error() says how
  kTooLarge,   // the hello does not fit the budget (counted apart from kMalformed)
};

inline constexpr std::size_t kClientHelloBudget = 16 * 1024;

struct ClientHelloInfo {
  // The host_name of the server_name extension, lower-cased; empty when the hello has none.
  // Checked: ASCII letters, digits, '-' and '_', dot-separated labels of 1..63 bytes, at most
  // 255 bytes, no trailing dot, not an IPv4 literal (RFC 6066 section 3).
  std::string server_name;
  // The ALPN protocol names in the client's order (RFC 7301). Opaque bytes: escape to log.
  std::vector<std::string> alpn;
  std::uint16_t legacy_version = 0;  // 0x0303 for TLS 1.2 and 1.3 hellos
};

class ClientHelloInspector {
 public:
  // `budget`: the largest handshake message accepted. The record framing around it may add at
  // most as much again (a hello cut into records of a few bytes each is legal but pointless).
  explicit ClientHelloInspector(std::size_t budget = kClientHelloBudget) : budget_(budget) {}

  // Feeds the next bytes of the stream (only the new ones). After a final answer, further
  // calls return it again and look at nothing.
  ClientHelloStatus feed(std::string_view bytes);

  [[nodiscard]] ClientHelloStatus status() const { return status_; }
  [[nodiscard]] const ClientHelloInfo& info() const { return info_; }
  // Why the answer is kNotTls, kMalformed or kTooLarge; never quotes the input.
  [[nodiscard]] const std::string& error() const { return error_; }
  // Bytes of the stream looked at. With kDone: up to the hello's last byte.
  [[nodiscard]] std::size_t consumed() const { return consumed_; }

 private:
  ClientHelloStatus finish(ClientHelloStatus status, std::string error = {});
  ClientHelloStatus tooManyRecordBytes();
  ClientHelloStatus checkRecordHeader();
  ClientHelloStatus takeRecordBody(std::string_view& bytes);

  std::size_t budget_;
  ClientHelloStatus status_ = ClientHelloStatus::kNeedMore;
  std::size_t consumed_ = 0;
  std::uint8_t record_header_[5] = {};
  std::size_t record_header_have_ = 0;
  std::size_t record_left_ = 0;     // body bytes of the current record not yet seen
  std::size_t message_length_ = 0;  // 4 + body, known once 4 handshake bytes are in
  std::string message_;             // the handshake message reassembled so far
  ClientHelloInfo info_;
  std::string error_;
};

// The whole inspection of one complete buffer, for tests and fuzzing.
struct ClientHelloResult {
  ClientHelloStatus status = ClientHelloStatus::kNeedMore;
  ClientHelloInfo info;
  std::string error;
  std::size_t consumed = 0;
};
[[nodiscard]] ClientHelloResult inspectClientHello(std::string_view bytes,
                                                   std::size_t budget = kClientHelloBudget);

// Parses a complete ClientHello handshake message (type, 3-byte length, body). Returns the
// error, empty on success. Pure; feed() calls it once the message is whole.
[[nodiscard]] std::string parseClientHelloMessage(std::string_view message, ClientHelloInfo& info);

// The host_name checks above, on a name as it came; lower-cases it in place. Returns the
// error, empty when the name is fine.
[[nodiscard]] std::string checkServerName(std::string& name);

}  // namespace l4lb::proto
