#include "admin/request_guard.h"

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <optional>

namespace l4lb::admin {

namespace {

using IpBytes = std::array<std::uint8_t, 16>;

char lowerAscii(char c) { return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c; }

bool equalsIgnoringCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (lowerAscii(a[i]) != lowerAscii(b[i])) return false;
  }
  return true;
}

// An IPv4 address as its IPv4-mapped IPv6 form, so that a dual-stack listener's
// "::ffff:127.0.0.1" and a Host of "127.0.0.1" compare equal.
std::optional<IpBytes> parseIp(std::string_view text) {
  if (text.empty() || text.size() >= INET6_ADDRSTRLEN) return std::nullopt;
  const std::string copy(text);
  IpBytes bytes{};
  if (::inet_pton(AF_INET, copy.c_str(), bytes.data() + 12) == 1) {
    bytes[10] = 0xff;
    bytes[11] = 0xff;
    return bytes;
  }
  if (::inet_pton(AF_INET6, copy.c_str(), bytes.data()) == 1) return bytes;
  return std::nullopt;
}

bool isMappedV4(const IpBytes& ip) {
  for (int i = 0; i < 10; ++i) {
    if (ip[i] != 0) return false;
  }
  return ip[10] == 0xff && ip[11] == 0xff;
}

std::string_view trimTrailingSpace(std::string_view value) {
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) value.remove_suffix(1);
  return value;
}

// Compares without stopping at the first difference, so response times say nothing about how
// much of a guessed token was right.
bool sameToken(std::string_view a, std::string_view b) {
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  const std::size_t n = std::min(a.size(), b.size());
  for (std::size_t i = 0; i < n; ++i) {
    diff |= static_cast<unsigned char>(a[i] ^ b[i]);
  }
  return diff == 0;
}

// "Bearer" (any case), one space, then the credential: visible ASCII, nothing after it.
std::optional<std::string_view> bearerCredential(std::string_view value) {
  constexpr std::string_view kScheme = "bearer ";
  if (value.size() <= kScheme.size() ||
      !equalsIgnoringCase(value.substr(0, kScheme.size()), kScheme)) {
    return std::nullopt;
  }
  const std::string_view credential = value.substr(kScheme.size());
  for (const char c : credential) {
    if (c <= ' ' || c > '~') return std::nullopt;
  }
  return credential;
}

bool changesState(std::string_view method) { return method != "GET" && method != "HEAD"; }

AccessVerdict refuse(int status, std::string message) {
  return AccessVerdict{.status = status, .message = std::move(message), .may_change = false};
}

}  // namespace

std::vector<std::string_view> rawHeaderValues(std::string_view head, std::string_view name) {
  std::vector<std::string_view> values;
  std::size_t start = head.find('\n');  // past the request line
  bool last_matched = false;
  while (start != std::string_view::npos && start + 1 < head.size()) {
    ++start;
    std::size_t end = head.find('\n', start);
    if (end == std::string_view::npos) end = head.size();
    std::string_view line = head.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.empty()) break;  // the blank line that ends the head
    if (line.front() == ' ' || line.front() == '\t') {
      if (last_matched) values.push_back(line);
    } else {
      const std::size_t colon = line.find(':');
      last_matched =
          colon != std::string_view::npos && equalsIgnoringCase(line.substr(0, colon), name);
      if (last_matched) {
        std::string_view value = line.substr(colon + 1);
        while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
          value.remove_prefix(1);
        }
        values.push_back(value);
      }
    }
    start = end;
  }
  return values;
}

bool isLoopbackAddress(std::string_view ip) {
  const auto bytes = parseIp(ip);
  if (!bytes) return false;
  if (isMappedV4(*bytes)) return (*bytes)[12] == 127;
  IpBytes one{};
  one[15] = 1;
  return *bytes == one;
}

bool namesListener(std::string_view authority, const AccessContext& context) {
  std::string_view host;
  std::string_view port;
  if (!authority.empty() && authority.front() == '[') {
    const std::size_t close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host = authority.substr(1, close - 1);
    const std::string_view rest = authority.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
      if (port.empty()) return false;
    }
  } else {
    const std::size_t colon = authority.find(':');
    host = authority.substr(0, colon);
    if (colon != std::string_view::npos) {
      port = authority.substr(colon + 1);
      if (port.empty()) return false;
    }
  }
  if (!port.empty()) {
    if (port.size() > 5) return false;
    int value = 0;
    for (const char c : port) {
      if (c < '0' || c > '9') return false;
      value = value * 10 + (c - '0');
    }
    if (value != context.local_port) return false;
  }
  if (equalsIgnoringCase(host, "localhost")) return true;
  const auto named = parseIp(host);
  const auto local = parseIp(context.local_ip);
  return named && local && *named == *local;
}

AccessVerdict decideAccess(const AccessContext& context, std::string_view method,
                           std::string_view head) {
  if (context.over_unix) return AccessVerdict{.status = 0, .message = {}, .may_change = true};

  const auto hosts = rawHeaderValues(head, "host");
  if (hosts.size() > 1) return refuse(400, "more than one Host header");
  // A client that sends no Host is no browser, so no rebinding page; curl and `l4lb ctl` send it.
  if (hosts.size() == 1 && !namesListener(trimTrailingSpace(hosts[0]), context)) {
    return refuse(421,
                  "the Host header must name this listener's address or localhost "
                  "(README.md, \"Admin API\": behind a proxy, set Host to the address l4lb "
                  "listens on)");
  }

  const auto authorizations = rawHeaderValues(head, "authorization");
  if (authorizations.size() > 1) return refuse(400, "more than one Authorization header");
  bool authorized = false;
  if (authorizations.size() == 1) {
    const auto credential = bearerCredential(authorizations[0]);
    if (!credential) {
      return refuse(400,
                    "malformed Authorization header (expected \"Bearer TOKEN\" and nothing "
                    "after the token)");
    }
    authorized = !context.token.empty() && sameToken(*credential, context.token);
  }

  const auto origins = rawHeaderValues(head, "origin");
  if (origins.size() > 1) return refuse(400, "more than one Origin header");
  if (origins.size() == 1 && changesState(method)) {
    constexpr std::string_view kHttp = "http://";
    const std::string_view origin = trimTrailingSpace(origins[0]);
    const bool ours = origin.size() > kHttp.size() &&
                      equalsIgnoringCase(origin.substr(0, kHttp.size()), kHttp) &&
                      namesListener(origin.substr(kHttp.size()), context);
    if (!ours) {
      return refuse(403,
                    "a change from a page of another origin is refused (the Origin header "
                    "must be this listener's own http:// origin, or absent)");
    }
  }

  if (!authorized && !context.loopback_listener) {
    return refuse(401,
                  "this listener is not on a loopback address: every request needs "
                  "\"Authorization: Bearer TOKEN\"");
  }
  return AccessVerdict{.status = 0, .message = {}, .may_change = authorized};
}

}  // namespace l4lb::admin
