#include "proto/tls_client_hello.h"

#include <algorithm>
#include <utility>

#include "proto/tls_wire.h"

namespace l4lb::proto {

namespace {

// Bounds-checked big-endian reads over a byte string: every read says whether it fitted.
class Reader {
 public:
  explicit Reader(std::string_view data) : data_(data) {}

  [[nodiscard]] std::size_t left() const { return data_.size(); }
  [[nodiscard]] bool u8(std::uint8_t& out) {
    if (data_.empty()) return false;
    out = static_cast<std::uint8_t>(data_[0]);
    data_.remove_prefix(1);
    return true;
  }
  [[nodiscard]] bool u16(std::uint16_t& out) {
    std::uint8_t hi = 0;
    std::uint8_t lo = 0;
    if (data_.size() < 2 || !u8(hi) || !u8(lo)) return false;
    out = static_cast<std::uint16_t>(hi << 8 | lo);
    return true;
  }
  [[nodiscard]] bool u24(std::uint32_t& out) {
    std::uint8_t hi = 0;
    std::uint16_t lo = 0;
    if (data_.size() < 3 || !u8(hi) || !u16(lo)) return false;
    out = static_cast<std::uint32_t>(hi) << 16 | lo;
    return true;
  }
  [[nodiscard]] bool bytes(std::size_t n, std::string_view& out) {
    if (data_.size() < n) return false;
    out = data_.substr(0, n);
    data_.remove_prefix(n);
    return true;
  }

 private:
  std::string_view data_;
};

std::string parseServerName(std::string_view data, ClientHelloInfo& info) {
  Reader r(data);
  std::uint16_t list_length = 0;
  if (!r.u16(list_length)) return "server_name extension shorter than 2 bytes";
  if (list_length != r.left()) {
    return "server_name list length " + std::to_string(list_length) +
           " does not match the extension's " + std::to_string(r.left());
  }
  if (list_length == 0) return "server_name list is empty";
  bool have_host_name = false;
  while (r.left() > 0) {
    std::uint8_t name_type = 0;
    std::uint16_t length = 0;
    std::string_view name;
    if (!r.u8(name_type) || !r.u16(length) || !r.bytes(length, name)) {
      return "server_name entry overruns the list";
    }
    if (name_type != tls::kNameTypeHostName) continue;  // no other type is defined; skip them
    // RFC 6066 3: no more than one name of a type.
    if (have_host_name) return "two host_name entries";
    have_host_name = true;
    std::string host(name);
    if (std::string error = checkServerName(host); !error.empty()) return error;
    info.server_name = std::move(host);
  }
  return {};
}

std::string parseAlpn(std::string_view data, ClientHelloInfo& info) {
  Reader r(data);
  std::uint16_t list_length = 0;
  if (!r.u16(list_length)) return "ALPN extension shorter than 2 bytes";
  if (list_length != r.left()) {
    return "ALPN list length " + std::to_string(list_length) + " does not match the extension's " +
           std::to_string(r.left());
  }
  if (list_length == 0) return "ALPN list is empty";
  while (r.left() > 0) {
    std::uint8_t length = 0;
    std::string_view name;
    if (!r.u8(length)) return "ALPN protocol name overruns the list";
    if (length == 0) return "empty ALPN protocol name";
    if (!r.bytes(length, name)) return "ALPN protocol name overruns the list";
    info.alpn.emplace_back(name);
  }
  return {};
}

std::string parseExtensions(std::string_view block, ClientHelloInfo& info) {
  Reader r(block);
  bool have_server_name = false;
  bool have_alpn = false;
  while (r.left() > 0) {
    std::uint16_t type = 0;
    std::uint16_t length = 0;
    std::string_view data;
    if (!r.u16(type) || !r.u16(length)) return "extension header overruns the extensions block";
    if (!r.bytes(length, data)) {
      return "extension " + std::to_string(type) + " of length " + std::to_string(length) +
             " overruns the extensions block";
    }
    std::string error;
    if (type == tls::kExtServerName) {
      if (have_server_name) return "duplicate server_name extension";
      have_server_name = true;
      error = parseServerName(data, info);
    } else if (type == tls::kExtAlpn) {
      if (have_alpn) return "duplicate ALPN extension";
      have_alpn = true;
      error = parseAlpn(data, info);
    }
    if (!error.empty()) return error;
  }
  return {};
}

}  // namespace

std::string checkServerName(std::string& name) {
  if (name.empty()) return "host_name is empty";
  if (name.size() > 255) return "host_name of " + std::to_string(name.size()) + " bytes over 255";
  if (name.back() == '.') return "host_name ends with a dot";
  bool only_digits_and_dots = true;
  std::size_t label = 0;
  for (char& c : name) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    const bool digit = c >= '0' && c <= '9';
    if (c == '.') {
      if (label == 0) return "host_name has an empty label";
      label = 0;
      continue;
    }
    if (!digit && !(c >= 'a' && c <= 'z') && c != '-' && c != '_') {
      return "host_name has a byte that is not a letter, digit, '-', '_' or '.'";
    }
    only_digits_and_dots = only_digits_and_dots && digit;
    if (++label > 63) return "host_name has a label over 63 bytes";
  }
  // RFC 6066 3: literal IPv4 and IPv6 addresses are not permitted (IPv6 fails on ':' above).
  if (only_digits_and_dots) return "host_name is an IPv4 literal";
  return {};
}

std::string parseClientHelloMessage(std::string_view message, ClientHelloInfo& info) {
  Reader m(message);
  std::uint8_t type = 0;
  std::uint32_t length = 0;
  if (!m.u8(type) || !m.u24(length)) return "handshake message shorter than 4 bytes";
  if (type != tls::kClientHello) {
    return "handshake message type " + std::to_string(type) + " is not ClientHello";
  }
  if (length != m.left()) {
    return "handshake length " + std::to_string(length) + " does not match the " +
           std::to_string(m.left()) + " bytes given";
  }
  std::uint8_t session_id_length = 0;
  std::uint16_t cipher_suites_length = 0;
  std::uint8_t compression_length = 0;
  std::string_view skipped;
  if (!m.u16(info.legacy_version)) return "ClientHello ends inside legacy_version";
  if (!m.bytes(32, skipped)) return "ClientHello ends inside random";
  if (!m.u8(session_id_length)) return "ClientHello ends before the session id";
  if (session_id_length > 32) {
    return "session id length " + std::to_string(session_id_length) + " over 32";
  }
  if (!m.bytes(session_id_length, skipped)) return "ClientHello ends inside the session id";
  if (!m.u16(cipher_suites_length)) return "ClientHello ends before the cipher suites";
  if (cipher_suites_length == 0 || cipher_suites_length % 2 != 0) {
    return "cipher suites length " + std::to_string(cipher_suites_length) + " is odd or zero";
  }
  if (!m.bytes(cipher_suites_length, skipped)) return "ClientHello ends inside the cipher suites";
  if (!m.u8(compression_length)) return "ClientHello ends before the compression methods";
  if (compression_length == 0) return "compression methods length 0";
  if (!m.bytes(compression_length, skipped)) {
    return "ClientHello ends inside the compression methods";
  }
  if (m.left() == 0) return {};  // no extensions at all (SSL 3.0 style): no SNI, no ALPN
  std::uint16_t extensions_length = 0;
  if (!m.u16(extensions_length)) return "ClientHello ends inside the extensions length";
  if (extensions_length != m.left()) {
    return "extensions length " + std::to_string(extensions_length) + " but " +
           std::to_string(m.left()) + " bytes follow";
  }
  std::string_view extensions;
  (void)m.bytes(extensions_length, extensions);
  return parseExtensions(extensions, info);
}

ClientHelloStatus ClientHelloInspector::finish(ClientHelloStatus status, std::string error) {
  status_ = status;
  error_ = std::move(error);
  message_.clear();
  message_.shrink_to_fit();
  return status_;
}

ClientHelloStatus ClientHelloInspector::tooManyRecordBytes() {
  return finish(ClientHelloStatus::kTooLarge,
                "ClientHello records run past " + std::to_string(2 * budget_) + " bytes");
}

// Called after each byte of a record header; the first record is judged byte by byte, so a
// plain-text protocol is told apart at its first byte.
ClientHelloStatus ClientHelloInspector::checkRecordHeader() {
  const bool first = message_.empty();
  const std::size_t have = record_header_have_;
  const auto refuse = [&](std::string why) {
    return finish(first ? ClientHelloStatus::kNotTls : ClientHelloStatus::kMalformed,
                  first ? "not a TLS handshake record: " + why : std::move(why));
  };
  if (have >= 1 && record_header_[0] != tls::kRecordHandshake) {
    if (first && (record_header_[0] & 0x80) != 0) {
      // An SSL 2.0 compatible hello: no extensions, so nothing to route on.
      return refuse("SSL 2.0 record header");
    }
    return refuse("content type " + std::to_string(record_header_[0]) + " is not handshake");
  }
  // legacy_record_version is ignored beyond its major byte (RFC 8446 5.1; nginx 0fa843495).
  if (have >= 2 && record_header_[1] != 3) return refuse("record version is not 3.x");
  if (have >= 3 && record_header_[2] > 0x0f) return refuse("record version is not 3.x");
  if (have < tls::kRecordHeaderBytes) return ClientHelloStatus::kNeedMore;
  record_left_ = static_cast<std::size_t>(record_header_[3]) << 8 | record_header_[4];
  if (record_left_ == 0) return finish(ClientHelloStatus::kMalformed, "empty handshake record");
  if (record_left_ > tls::kMaxPlaintext) {
    return finish(ClientHelloStatus::kMalformed,
                  "record length " + std::to_string(record_left_) + " over 16384");
  }
  return ClientHelloStatus::kNeedMore;
}

ClientHelloStatus ClientHelloInspector::takeRecordBody(std::string_view& bytes) {
  while (record_left_ > 0 && !bytes.empty()) {
    // The type byte alone first, then the length, then the rest: each check happens at the same
    // stream offset however the stream is cut, so `consumed` does not depend on the cuts.
    const std::size_t wanted = message_.empty()       ? 1
                               : message_length_ == 0 ? 4 - message_.size()
                                                      : message_length_ - message_.size();
    if (consumed_ >= 2 * budget_) return tooManyRecordBytes();
    const std::size_t n = std::min({wanted, record_left_, bytes.size(), 2 * budget_ - consumed_});
    message_.append(bytes.substr(0, n));
    bytes.remove_prefix(n);
    record_left_ -= n;
    consumed_ += n;
    if (static_cast<std::uint8_t>(message_[0]) != tls::kClientHello) {
      return finish(ClientHelloStatus::kMalformed,
                    "handshake message type " +
                        std::to_string(static_cast<std::uint8_t>(message_[0])) +
                        " is not ClientHello");
    }
    if (message_length_ == 0 && message_.size() == 4) {
      const std::size_t body =
          static_cast<std::size_t>(static_cast<std::uint8_t>(message_[1])) << 16 |
          static_cast<std::size_t>(static_cast<std::uint8_t>(message_[2])) << 8 |
          static_cast<std::uint8_t>(message_[3]);
      if (4 + body > budget_) {
        return finish(ClientHelloStatus::kTooLarge, "ClientHello of " + std::to_string(4 + body) +
                                                        " bytes over the budget of " +
                                                        std::to_string(budget_));
      }
      message_length_ = 4 + body;
      message_.reserve(message_length_);
    }
    if (message_length_ != 0 && message_.size() == message_length_) {
      ClientHelloInfo info;
      std::string error = parseClientHelloMessage(message_, info);
      if (!error.empty()) return finish(ClientHelloStatus::kMalformed, std::move(error));
      info_ = std::move(info);
      return finish(ClientHelloStatus::kDone);
    }
  }
  if (record_left_ == 0) record_header_have_ = 0;
  return ClientHelloStatus::kNeedMore;
}

ClientHelloStatus ClientHelloInspector::feed(std::string_view bytes) {
  while (status_ == ClientHelloStatus::kNeedMore && !bytes.empty()) {
    if (consumed_ >= 2 * budget_) return tooManyRecordBytes();
    if (record_header_have_ < tls::kRecordHeaderBytes) {
      record_header_[record_header_have_++] = static_cast<std::uint8_t>(bytes[0]);
      bytes.remove_prefix(1);
      ++consumed_;
      (void)checkRecordHeader();
      continue;
    }
    (void)takeRecordBody(bytes);
  }
  return status_;
}

ClientHelloResult inspectClientHello(std::string_view bytes, std::size_t budget) {
  ClientHelloInspector inspector(budget);
  ClientHelloResult result;
  result.status = inspector.feed(bytes);
  result.info = inspector.info();
  result.error = inspector.error();
  result.consumed = inspector.consumed();
  return result;
}

}  // namespace l4lb::proto
