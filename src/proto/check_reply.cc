#include "proto/check_reply.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <utility>

#include "proto/printable.h"

namespace l4lb::proto {

namespace {

// A reply as the log quotes it: shorter than dialogs' text, a check logs one line per state
// change.
std::string excerpt(std::string_view reply) { return printable(reply, 80); }

int hexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
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

base::Result<std::string> unescapeCheckString(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
      continue;
    }
    if (i + 1 >= text.size()) {
      return base::failure("ends with a lone backslash");
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
          return base::failure("\\x needs two hex digits");
        }
        out += static_cast<char>(high * 16 + low);
        i += 2;
        break;
      }
      default:
        return base::failure(
            fmt::format("unknown escape \\{} (known: \\r \\n \\t \\0 \\\\ \\xNN)", c));
    }
  }
  return out;
}

CheckVerdict parseExpectReply(std::string_view reply, std::string_view expect) {
  const std::size_t n = std::min(reply.size(), expect.size());
  if (reply.substr(0, n) != expect.substr(0, n)) {
    return CheckVerdict::down("unexpected reply \"" + excerpt(reply) + "\"");
  }
  if (n < expect.size()) return CheckVerdict::needMore();
  return CheckVerdict::up("reply \"" + excerpt(reply.substr(0, n)) + "\"");
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
      return CheckVerdict::down("ROLE answered \"" + excerpt(reply) + "\"");
    }
    return CheckVerdict::needMore();
  }
  if (header->empty() || (*header)[0] != '*') {
    return CheckVerdict::down("ROLE answered \"" + excerpt(*header) + "\"");
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
  return CheckVerdict::down(fmt::format("role {}, not {}", excerpt(name),
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
      return CheckVerdict::down("AUTH answered \"" + excerpt(*auth) + "\"");
    }
    reply.remove_prefix(auth->size() + 2);
  }
  auto line = firstLine(reply);
  if (!line) {
    if (!reply.empty() && reply[0] != '+' && reply[0] != '-') {
      return CheckVerdict::down("not a redis reply: \"" + excerpt(reply) + "\"");
    }
    return CheckVerdict::needMore();
  }
  if (*line == "+PONG") {
    if (role == Role::kAny) return CheckVerdict::up("+PONG");
    return parseRedisRole(reply.substr(line->size() + 2), role);
  }
  // -LOADING, -MASTERDOWN, -NOAUTH, -BUSY ...: the server is there but cannot serve.
  return CheckVerdict::down("PING answered \"" + excerpt(*line) + "\"");
}

std::string memcachedRequest() { return "version\r\n"; }

CheckVerdict parseMemcachedReply(std::string_view reply) {
  auto line = firstLine(reply);
  if (!line) {
    constexpr std::string_view kPrefix = "VERSION ";
    const std::size_t n = std::min(reply.size(), kPrefix.size());
    if (reply.substr(0, n) != kPrefix.substr(0, n)) {
      return CheckVerdict::down("version answered \"" + excerpt(reply) + "\"");
    }
    return CheckVerdict::needMore();
  }
  if (line->starts_with("VERSION ")) return CheckVerdict::up(excerpt(*line));
  return CheckVerdict::down("version answered \"" + excerpt(*line) + "\"");
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
    return CheckVerdict::down("not an HTTP response: \"" + excerpt(reply) + "\"");
  }
  // "HTTP/1.x NNN": the status is all that is needed.
  if (reply.size() < 12) return CheckVerdict::needMore();
  if (reply[8] != ' ') return CheckVerdict::down("bad status line \"" + excerpt(reply) + "\"");
  int status = 0;
  for (std::size_t i = 9; i < 12; ++i) {
    const char c = reply[i];
    if (c < '0' || c > '9') return CheckVerdict::down("bad status \"" + excerpt(reply) + "\"");
    status = status * 10 + (c - '0');
  }
  std::string_view status_line = reply.substr(0, reply.find("\r\n"));
  if (status >= min_status && status <= max_status) return CheckVerdict::up(excerpt(status_line));
  return CheckVerdict::down(fmt::format("status {} outside {}-{} (\"{}\")", status, min_status,
                                        max_status, excerpt(status_line)));
}

}  // namespace l4lb::proto
