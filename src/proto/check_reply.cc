#include "proto/check_reply.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <utility>

namespace l4lb::proto {

namespace {

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// Text from a server, made safe for one log line: printable ASCII kept, the rest as \xNN.
std::string printable(std::string_view text, std::size_t limit = 80) {
  std::string out;
  for (std::size_t i = 0; i < text.size() && i < limit; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  if (text.size() > limit) out += "...";
  return out;
}

// The first line (without CRLF), or nullopt while it is incomplete.
std::optional<std::string_view> firstLine(std::string_view reply) {
  const std::size_t end = reply.find("\r\n");
  if (end == std::string_view::npos) return std::nullopt;
  return reply.substr(0, end);
}

std::string redisBulk(std::string_view text) {
  return fmt::format("${}\r\n{}\r\n", text.size(), text);
}

}  // namespace

std::optional<std::string> unescapeCheckString(std::string_view text, std::string& error) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (i + 1 >= text.size()) {
      error = "ends with a lone backslash";
      return std::nullopt;
    }
    const char c = text[++i];
    switch (c) {
      case 'r': out += '\r'; break;
      case 'n': out += '\n'; break;
      case 't': out += '\t'; break;
      case '0': out += '\0'; break;
      case '\\': out += '\\'; break;
      case 'x': {
        const int high = i + 1 < text.size() ? hexDigit(text[i + 1]) : -1;
        const int low = i + 2 < text.size() ? hexDigit(text[i + 2]) : -1;
        if (high < 0 || low < 0) {
          error = "\\x needs two hex digits";
          return std::nullopt;
        }
        out += static_cast<char>(high * 16 + low);
        i += 2;
        break;
      }
      default:
        error = fmt::format("unknown escape \\{} (known: \\r \\n \\t \\0 \\\\ \\xNN)", c);
        return std::nullopt;
    }
  }
  return out;
}

CheckVerdict parseExpectReply(std::string_view reply, std::string_view expect) {
  const std::size_t n = std::min(reply.size(), expect.size());
  if (reply.substr(0, n) != expect.substr(0, n)) {
    return CheckVerdict::down("unexpected reply \"" + printable(reply) + "\"");
  }
  if (n < expect.size()) return CheckVerdict::needMore();
  return CheckVerdict::up("reply \"" + printable(reply.substr(0, n)) + "\"");
}

std::string redisRequest(const std::string& password, Role role) {
  std::string out;
  // RESP arrays, so a password with spaces or quotes stays one argument.
  if (!password.empty()) out += "*2\r\n" + redisBulk("AUTH") + redisBulk(password);
  out += "*1\r\n" + redisBulk("PING");
  if (role != Role::kAny) out += "*1\r\n" + redisBulk("ROLE");
  return out;
}

namespace {

// The reply to ROLE: an array whose first element is "master", "slave" or "sentinel".
CheckVerdict parseRedisRole(std::string_view reply, Role want) {
  auto header = firstLine(reply);
  if (!header) {
    if (!reply.empty() && reply[0] != '*') {
      return CheckVerdict::down("ROLE answered \"" + printable(reply) + "\"");
    }
    return CheckVerdict::needMore();
  }
  if (header->empty() || (*header)[0] != '*') {
    return CheckVerdict::down("ROLE answered \"" + printable(*header) + "\"");
  }
  reply.remove_prefix(header->size() + 2);
  auto bulk = firstLine(reply);
  if (!bulk) {
    if (!reply.empty() && reply[0] != '$') return CheckVerdict::down("bad ROLE reply");
    return CheckVerdict::needMore();
  }
  std::size_t length = 0;
  const auto* end = bulk->data() + bulk->size();
  auto [ptr, ec] =
      std::from_chars(bulk->data() + std::min<std::size_t>(1, bulk->size()), end, length);
  if (bulk->empty() || (*bulk)[0] != '$' || ec != std::errc() || ptr != end || length > 64) {
    return CheckVerdict::down("bad ROLE reply");
  }
  reply.remove_prefix(bulk->size() + 2);
  if (reply.size() < length) return CheckVerdict::needMore();
  const std::string_view name = reply.substr(0, length);
  const bool primary = name == "master";
  const bool replica = name == "slave";
  if ((want == Role::kPrimary && primary) || (want == Role::kReplica && replica)) {
    return CheckVerdict::up("+PONG, role " + std::string(name));
  }
  return CheckVerdict::down(fmt::format("role {}, not {}", printable(name),
                                        want == Role::kPrimary ? "the primary" : "a replica"));
}

}  // namespace

CheckVerdict parseRedisReply(std::string_view reply, bool with_auth, Role role) {
  if (with_auth) {
    auto auth = firstLine(reply);
    if (!auth) {
      // An error is down at once, whatever follows; a partial "+OK" waits.
      if (!reply.empty() && reply[0] != '+') return parseRedisReply(reply, false, role);
      return CheckVerdict::needMore();
    }
    if (*auth != "+OK") {
      return CheckVerdict::down("AUTH answered \"" + printable(*auth) + "\"");
    }
    reply.remove_prefix(auth->size() + 2);
  }
  auto line = firstLine(reply);
  if (!line) {
    if (!reply.empty() && reply[0] != '+' && reply[0] != '-') {
      return CheckVerdict::down("not a redis reply: \"" + printable(reply) + "\"");
    }
    return CheckVerdict::needMore();
  }
  if (*line == "+PONG") {
    if (role == Role::kAny) return CheckVerdict::up("+PONG");
    return parseRedisRole(reply.substr(line->size() + 2), role);
  }
  // -LOADING, -MASTERDOWN, -NOAUTH, -BUSY ...: the server is there but cannot serve.
  return CheckVerdict::down("PING answered \"" + printable(*line) + "\"");
}

std::string memcachedRequest() { return "version\r\n"; }

CheckVerdict parseMemcachedReply(std::string_view reply) {
  auto line = firstLine(reply);
  if (!line) {
    constexpr std::string_view kPrefix = "VERSION ";
    const std::size_t n = std::min(reply.size(), kPrefix.size());
    if (reply.substr(0, n) != kPrefix.substr(0, n)) {
      return CheckVerdict::down("version answered \"" + printable(reply) + "\"");
    }
    return CheckVerdict::needMore();
  }
  if (line->starts_with("VERSION ")) return CheckVerdict::up(printable(*line));
  return CheckVerdict::down("version answered \"" + printable(*line) + "\"");
}

std::string httpRequest(std::string_view path, std::string_view host) {
  return fmt::format(
      "GET {} HTTP/1.0\r\nHost: {}\r\nUser-Agent: l4lb-health\r\nConnection: close\r\n\r\n", path,
      host);
}

CheckVerdict parseHttpReply(std::string_view reply, int min_status, int max_status) {
  constexpr std::string_view kVersion = "HTTP/1.";
  const std::size_t n = std::min(reply.size(), kVersion.size());
  if (reply.substr(0, n) != kVersion.substr(0, n)) {
    return CheckVerdict::down("not an HTTP response: \"" + printable(reply) + "\"");
  }
  // "HTTP/1.x NNN": the status is all that is needed.
  if (reply.size() < 12) return CheckVerdict::needMore();
  if (reply[8] != ' ') return CheckVerdict::down("bad status line \"" + printable(reply) + "\"");
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    const char c = reply[i];
    if (c < '0' || c > '9') return CheckVerdict::down("bad status \"" + printable(reply) + "\"");
    status = status * 10 + (c - '0');
  }
  std::string_view status_line = reply.substr(0, reply.find("\r\n"));
  if (status >= min_status && status <= max_status) return CheckVerdict::up(printable(status_line));
  return CheckVerdict::down(fmt::format("status {} outside {}-{} (\"{}\")", status, min_status,
                                        max_status, printable(status_line)));
}

CheckVerdict parseMysqlGreeting(std::string_view reply) {
  // A packet: 3-byte little-endian payload length, sequence id, payload.
  if (reply.size() < 5) return CheckVerdict::needMore();
  const std::size_t length = std::size_t{static_cast<unsigned char>(reply[0])} |
                             (std::size_t{static_cast<unsigned char>(reply[1])} << 8) |
                             (std::size_t{static_cast<unsigned char>(reply[2])} << 16);
  if (length == 0) return CheckVerdict::down("empty mysql packet");
  const auto first = static_cast<unsigned char>(reply[4]);
  if (first == 10) {
    // Protocol 10, then the NUL-terminated server version.
    std::string_view rest = reply.substr(5, std::min(length - 1, reply.size() - 5));
    const std::size_t end = rest.find('\0');
    if (end == std::string_view::npos && reply.size() < 4 + length) {
      return CheckVerdict::needMore();
    }
    return CheckVerdict::up("mysql " + printable(rest.substr(0, end)));
  }
  if (first == 0xff) {
    // Error packet: 2-byte code, then the message (a greeting error has no SQL state).
    if (reply.size() < 4 + length) {
      return reply.size() >= kMaxCheckReply ? CheckVerdict::down("mysql error")
                                            : CheckVerdict::needMore();
    }
    if (length < 3) return CheckVerdict::down("mysql error packet");
    const unsigned code = static_cast<unsigned char>(reply[5]) |
                          (static_cast<unsigned>(static_cast<unsigned char>(reply[6])) << 8);
    return CheckVerdict::down(
        fmt::format("mysql error {}: {}", code, printable(reply.substr(7, length - 3))));
  }
  return CheckVerdict::down(fmt::format("not a mysql greeting (first byte 0x{:02x})", first));
}

namespace {

constexpr std::uint32_t kClientLongPassword = 0x1;
constexpr std::uint32_t kClientProtocol41 = 0x200;
constexpr std::uint32_t kClientSecureConnection = 0x8000;
constexpr std::uint32_t kClientPluginAuth = 0x80000;

std::string mysqlPacket(std::uint8_t sequence, std::string_view payload) {
  std::string out;
  out += static_cast<char>(payload.size() & 0xff);
  out += static_cast<char>((payload.size() >> 8) & 0xff);
  out += static_cast<char>((payload.size() >> 16) & 0xff);
  out += static_cast<char>(sequence);
  out += payload;
  return out;
}

// The first packet of a reply when complete: its sequence id and payload.
std::optional<std::pair<std::uint8_t, std::string_view>> mysqlFirstPacket(std::string_view reply) {
  if (reply.size() < 4) return std::nullopt;
  const std::size_t length = std::size_t{static_cast<unsigned char>(reply[0])} |
                             (std::size_t{static_cast<unsigned char>(reply[1])} << 8) |
                             (std::size_t{static_cast<unsigned char>(reply[2])} << 16);
  if (reply.size() < 4 + length) return std::nullopt;
  return std::pair{static_cast<std::uint8_t>(reply[3]), reply.substr(4, length)};
}

}  // namespace

std::string mysqlLogin(std::string_view user) {
  std::string payload;
  const std::uint32_t capabilities =
      kClientLongPassword | kClientProtocol41 | kClientSecureConnection | kClientPluginAuth;
  for (int shift = 0; shift < 32; shift += 8) {
    payload += static_cast<char>((capabilities >> shift) & 0xff);
  }
  payload += std::string("\x00\x00\x00\x01", 4);  // max packet size 16 MiB, little-endian
  payload += '\x21';                              // utf8_general_ci
  payload += std::string(23, '\0');
  payload += user;
  payload += '\0';
  payload += '\0';  // an empty auth response
  payload += "mysql_native_password";
  payload += '\0';
  return mysqlPacket(1, payload);
}

CheckVerdict parseMysqlLoginReply(std::string_view reply) {
  auto packet = mysqlFirstPacket(reply);
  if (!packet) {
    return reply.size() >= kMaxCheckReply ? CheckVerdict::down("mysql reply too long")
                                          : CheckVerdict::needMore();
  }
  const std::string_view payload = packet->second;
  if (payload.empty()) return CheckVerdict::down("empty mysql packet");
  const auto first = static_cast<unsigned char>(payload[0]);
  if (first == 0x00) return CheckVerdict::up("mysql login OK");
  if (first == 0xfe) return CheckVerdict::needMore();  // AuthSwitchRequest: see mysqlAuthSwitch
  if (first == 0xff && payload.size() >= 3) {
    const unsigned code = static_cast<unsigned char>(payload[1]) |
                          (static_cast<unsigned>(static_cast<unsigned char>(payload[2])) << 8);
    std::string_view message = payload.substr(3);
    if (!message.empty() && message[0] == '#')
      message.remove_prefix(std::min<std::size_t>(6, message.size()));
    return CheckVerdict::down(fmt::format("mysql error {}: {}", code, printable(message)));
  }
  return CheckVerdict::down(fmt::format("unexpected mysql reply (0x{:02x})", first));
}

std::optional<std::string> mysqlAuthSwitch(std::string_view reply) {
  auto packet = mysqlFirstPacket(reply);
  if (!packet || packet->second.empty() || static_cast<unsigned char>(packet->second[0]) != 0xfe) {
    return std::nullopt;
  }
  return mysqlPacket(static_cast<std::uint8_t>(packet->first + 1), "");
}

std::string mysqlQuit() { return mysqlPacket(0, "\x01"); }

}  // namespace l4lb::proto
