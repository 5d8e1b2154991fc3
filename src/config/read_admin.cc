#include "config/read_admin.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <variant>

#include "base/fd.h"
#include "config/draft.h"
#include "config/secret_files.h"
#include "config/suggest.h"

namespace l4lb::config {

namespace {

using namespace std::string_view_literals;

constexpr std::array kAdminKeys = {"listen"sv, "token_file"sv};

// Long enough for any sane token, short enough that a wrong path (a log file) is caught.
constexpr std::size_t kMaxTokenBytes = 4096;
constexpr std::size_t kMinTokenBytes = 16;

// Sets admin.token and where it came from (checked with the whole config: secret_files.h).
void readTokenFile(TableReader& reader, AdminConfig& admin) {
  auto path = reader.name("token_file");
  if (!path) return;
  const Origin origin = reader.originOf("token_file");
  // O_NONBLOCK: a FIFO named here must not hang the config load.
  base::Fd fd(::open(path->c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd) {
    reader.errors().add(origin,
                        fmt::format("cannot open {}: {}", quoteText(*path), std::strerror(errno)));
    return;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    reader.errors().add(origin, fmt::format("{} is not a regular file", quoteText(*path)));
    return;
  }
  std::string token(kMaxTokenBytes + 1, '\0');
  ssize_t n = ::read(fd.get(), token.data(), token.size());
  if (n < 0) {
    reader.errors().add(origin,
                        fmt::format("cannot read {}: {}", quoteText(*path), std::strerror(errno)));
    return;
  }
  token.resize(static_cast<std::size_t>(n));
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  if (token.size() > kMaxTokenBytes || token.size() < kMinTokenBytes) {
    reader.errors().add(origin, fmt::format("the token in {} must be {} to {} bytes",
                                            quoteText(*path), kMinTokenBytes, kMaxTokenBytes));
    return;
  }
  for (char c : token) {
    // It travels in an HTTP header: printable ASCII, no spaces.
    if (c <= ' ' || c > '~') {
      reader.errors().add(origin, fmt::format("the token in {} must be printable ASCII without "
                                              "spaces",
                                              quoteText(*path)));
      return;
    }
  }
  admin.token = std::move(token);
  admin.token_source = secretSource(reader.errors(), origin, *path, st);
}

// 127.0.0.0/8, ::1 or an IPv4-mapped 127.x address: reachable from this machine only.
bool onLoopback(const net::Endpoint& endpoint) {
  if (endpoint.addr.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&endpoint.addr);
    return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
  }
  if (endpoint.addr.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&endpoint.addr);
    if (IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr)) return true;
    return IN6_IS_ADDR_V4MAPPED(&in6->sin6_addr) && in6->sin6_addr.s6_addr[12] == 127;
  }
  return false;
}

}  // namespace

AdminConfig defaultAdminConfig() {
  AdminConfig admin;
  auto parsed = net::parseEndpoint(kDefaultAdminListen);
  admin.listen.push_back(std::move(parsed).value());
  return admin;
}

void readAdmin(const toml::table& table, const EndpointParser& parse, ErrorList& errors,
               AdminConfig& admin) {
  TableReader reader(table, "admin", kAdminKeys, errors);
  bool has_tcp = false;
  Origin first_tcp;
  if (reader.has("listen")) {
    admin.listen.clear();
    const Origin origin = reader.originOf("listen");
    if (const toml::array* listen = reader.array(
            "listen", "an array of URLs like [\"unix:///run/l4lb/admin.sock\"] ([] for none)")) {
      for (std::size_t i = 0; i < listen->size(); ++i) {
        const toml::node& node = *listen->get(i);
        Origin where{.key = indexKey(origin.key, i), .pos = positionOf(node.source())};
        const auto* url = node.as_string();
        if (url == nullptr) {
          reader.errors().add(where, fmt::format("expected a string like \"unix:///PATH\" or "
                                                 "\"tcp://127.0.0.1:PORT\", got {}",
                                                 describe(node)));
          continue;
        }
        auto parsed = parse(url->get());
        if (!parsed) {
          reader.errors().add(where, parsed.error().message());
          continue;
        }
        auto endpoint = std::move(parsed).value();
        if (endpoint.kind != net::EndpointKind::kUnix && endpoint.kind != net::EndpointKind::kTcp) {
          reader.errors().add(where, fmt::format("the admin API listens on unix:// or tcp:// "
                                                 "only, not {}",
                                                 quoteText(url->get())));
          continue;
        }
        if (endpoint.kind == net::EndpointKind::kTcp && !onLoopback(endpoint)) {
          ConfigError warning = reader.errors().placeOf(where);
          warning.message = fmt::format(
              "{} is not a loopback address: anyone who can reach it may try the API (every "
              "request then needs the token; put it behind a TLS-terminating proxy, README.md "
              "\"Admin API\")",
              url->get());
          reader.errors().warn(std::move(warning));
        }
        if (endpoint.kind == net::EndpointKind::kTcp && !has_tcp) {
          has_tcp = true;
          first_tcp = where;
        }
        admin.listen.push_back(std::move(endpoint));
      }
    }
  }
  if (reader.has("token_file")) {
    readTokenFile(reader, admin);
  } else if (has_tcp) {
    reader.errors().add(first_tcp,
                        "a tcp:// admin listener needs token_file (the Bearer token that "
                        "changes over TCP must carry)");
  }
  reader.reportUnknownKeys();
}

}  // namespace l4lb::config
