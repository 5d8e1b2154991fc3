#include "config/read_admin.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <string_view>
#include <variant>

#include "base/fd.h"
#include "config/draft.h"
#include "config/suggest.h"

namespace l4lb::config {

namespace {

using namespace std::string_view_literals;

constexpr std::array kAdminKeys = {"listen"sv, "token_file"sv};

// Long enough for any sane token, short enough that a wrong path (a log file) is caught.
constexpr std::size_t kMaxTokenBytes = 4096;
constexpr std::size_t kMinTokenBytes = 16;

std::optional<std::string> readTokenFile(TableReader& reader) {
  auto path = reader.name("token_file");
  if (!path) return std::nullopt;
  const Origin origin = reader.originOf("token_file");
  // O_NONBLOCK: a FIFO named here must not hang the config load.
  base::Fd fd(::open(path->c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd) {
    reader.errors().add(origin,
                        fmt::format("cannot open {}: {}", quoteText(*path), std::strerror(errno)));
    return std::nullopt;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    reader.errors().add(origin, fmt::format("{} is not a regular file", quoteText(*path)));
    return std::nullopt;
  }
  std::string token(kMaxTokenBytes + 1, '\0');
  ssize_t n = ::read(fd.get(), token.data(), token.size());
  if (n < 0) {
    reader.errors().add(origin,
                        fmt::format("cannot read {}: {}", quoteText(*path), std::strerror(errno)));
    return std::nullopt;
  }
  token.resize(static_cast<std::size_t>(n));
  while (!token.empty() && (token.back() == '\n' || token.back() == '\r')) token.pop_back();
  if (token.size() > kMaxTokenBytes || token.size() < kMinTokenBytes) {
    reader.errors().add(origin, fmt::format("the token in {} must be {} to {} bytes",
                                            quoteText(*path), kMinTokenBytes, kMaxTokenBytes));
    return std::nullopt;
  }
  for (char c : token) {
    // It travels in an HTTP header: printable ASCII, no spaces.
    if (c <= ' ' || c > '~') {
      reader.errors().add(origin, fmt::format("the token in {} must be printable ASCII without "
                                              "spaces",
                                              quoteText(*path)));
      return std::nullopt;
    }
  }
  return token;
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
        if (endpoint.kind == net::EndpointKind::kTcp && !has_tcp) {
          has_tcp = true;
          first_tcp = where;
        }
        admin.listen.push_back(std::move(endpoint));
      }
    }
  }
  if (reader.has("token_file")) {
    if (auto token = readTokenFile(reader)) admin.token = std::move(*token);
  } else if (has_tcp) {
    reader.errors().add(first_tcp,
                        "a tcp:// admin listener needs token_file (the Bearer token that "
                        "changes over TCP must carry)");
  }
  reader.reportUnknownKeys();
}

}  // namespace l4lb::config
