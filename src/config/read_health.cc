#include "config/read_health.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <openssl/err.h>
#include <openssl/x509_vfy.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>

#include "base/fd.h"
#include "config/limits.h"
#include "config/secret_files.h"
#include "config/suggest.h"
#include "proto/check_reply.h"
#include "proto/dns_check.h"

namespace l4lb::config {

namespace {

using namespace std::string_view_literals;

constexpr std::array kHealthKeys = {
    "check"sv, "interval"sv,      "timeout"sv,  "rise"sv,          "fall"sv,
    "send"sv,  "expect"sv,        "password"sv, "password_file"sv, "path"sv,
    "host"sv,  "expect_status"sv, "user"sv,     "database"sv,      "role"sv,
    "sni"sv,   "name"sv,          "type"sv,     "ca_file"sv,       "expiry_warning"sv};

constexpr std::array kCheckNames = {"tcp"sv,  "send-expect"sv, "redis"sv, "memcached"sv,
                                    "http"sv, "mysql"sv,       "pgsql"sv, "tls"sv,
                                    "dns"sv,  "udp"sv,         "https"sv};

constexpr std::array kDnsTypeNames = {"A"sv,  "AAAA"sv, "NS"sv,  "SOA"sv,    "CNAME"sv, "PTR"sv,
                                      "MX"sv, "TXT"sv,  "SRV"sv, "DNSKEY"sv, "CAA"sv};

constexpr std::array kRoleNames = {"primary"sv, "replica"sv, "any"sv};

constexpr std::int64_t kMaxRiseFall = 100;
// The largest UDP payload over IPv4 (65,535 less the IP and UDP headers).
constexpr std::size_t kMaxUdpPayload = 65'507;

constexpr std::size_t kMaxPasswordBytes = 4096;

std::optional<CheckKind> parseCheckKind(std::string_view name) {
  if (name == "tcp") return CheckKind::kTcp;
  if (name == "send-expect") return CheckKind::kSendExpect;
  if (name == "redis") return CheckKind::kRedis;
  if (name == "memcached") return CheckKind::kMemcached;
  if (name == "http") return CheckKind::kHttp;
  if (name == "mysql") return CheckKind::kMysql;
  if (name == "pgsql") return CheckKind::kPgsql;
  if (name == "tls") return CheckKind::kTls;
  if (name == "dns") return CheckKind::kDns;
  if (name == "udp") return CheckKind::kUdp;
  if (name == "https") return CheckKind::kHttps;
  return std::nullopt;
}

// The keys each check takes beyond the timing ones.
bool appliesTo(std::string_view key, CheckKind kind) {
  if (key == "send" || key == "expect") {
    return kind == CheckKind::kSendExpect || kind == CheckKind::kUdp;
  }
  if (key == "password_file" || key == "role") {
    return kind == CheckKind::kRedis || kind == CheckKind::kMysql || kind == CheckKind::kPgsql;
  }
  if (key == "path" || key == "host" || key == "expect_status") {
    return kind == CheckKind::kHttp || kind == CheckKind::kHttps;
  }
  if (key == "ca_file" || key == "expiry_warning") return kind == CheckKind::kHttps;
  if (key == "user") return kind == CheckKind::kPgsql || kind == CheckKind::kMysql;
  if (key == "database") return kind == CheckKind::kPgsql;
  if (key == "sni") return kind == CheckKind::kTls || kind == CheckKind::kHttps;
  if (key == "name" || key == "type") return kind == CheckKind::kDns;
  return true;
}

// Sets health.password and where it came from (checked with the whole config: secret_files.h).
void readPasswordFile(TableReader& reader, HealthConfig& health) {
  auto path = reader.name("password_file");
  if (!path) return;
  // O_NONBLOCK: a FIFO or terminal named here must not hang the config load.
  base::Fd fd(::open(path->c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd) {
    reader.errors().add(reader.originOf("password_file"),
                        fmt::format("cannot open {}: {}", quoteText(*path), std::strerror(errno)));
    return;
  }
  struct stat st {};
  if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    reader.errors().add(reader.originOf("password_file"),
                        fmt::format("{} is not a regular file", quoteText(*path)));
    return;
  }
  std::string password(kMaxPasswordBytes + 1, '\0');
  ssize_t n = ::read(fd.get(), password.data(), password.size());
  if (n < 0) {
    reader.errors().add(reader.originOf("password_file"),
                        fmt::format("cannot read {}: {}", quoteText(*path), std::strerror(errno)));
    return;
  }
  password.resize(static_cast<std::size_t>(n));
  if (password.size() > kMaxPasswordBytes) {
    reader.errors().add(
        reader.originOf("password_file"),
        fmt::format("{} is larger than {} bytes", quoteText(*path), kMaxPasswordBytes));
    return;
  }
  while (!password.empty() && (password.back() == '\n' || password.back() == '\r')) {
    password.pop_back();
  }
  if (password.empty()) {
    reader.errors().add(reader.originOf("password_file"),
                        fmt::format("{} is empty", quoteText(*path)));
    return;
  }
  health.password = std::move(password);
  health.password_source =
      secretSource(reader.errors(), reader.originOf("password_file"), *path, st);
}

std::optional<std::string> readEscaped(TableReader& reader, std::string_view key) {
  auto text = reader.name(key);
  if (!text) return std::nullopt;
  auto value = proto::unescapeCheckString(*text);
  if (!value) {
    reader.errors().add(reader.originOf(key), value.error().message());
    return std::nullopt;
  }
  return std::move(value).value();
}

// "200", "200-399", or an integer.
void readExpectStatus(TableReader& reader, HealthConfig& health) {
  const toml::node* node = reader.node("expect_status");
  if (node == nullptr) return;
  if (const auto* number = node->as_integer()) {
    if (auto status = reader.integer("expect_status", 100, 599)) {
      health.min_status = health.max_status = static_cast<std::uint32_t>(*status);
    }
    (void)number;
    return;
  }
  auto text = reader.string("expect_status");
  if (!text) return;
  const std::size_t dash = text->find('-');
  auto parse = [](std::string_view part, std::uint32_t& out) {
    auto [ptr, ec] = std::from_chars(part.data(), part.data() + part.size(), out);
    return ec == std::errc() && ptr == part.data() + part.size() && out >= 100 && out <= 599;
  };
  std::uint32_t low = 0;
  std::uint32_t high = 0;
  std::string_view view = *text;
  const bool ok = dash == std::string::npos
                      ? parse(view, low) && (high = low, true)
                      : parse(view.substr(0, dash), low) && parse(view.substr(dash + 1), high);
  if (!ok || low > high) {
    reader.errors().add(reader.originOf("expect_status"),
                        fmt::format("invalid value {}: expected a status like 200 or a range "
                                    "like \"200-399\" (100 to 599)",
                                    quoteText(*text)));
    return;
  }
  health.min_status = low;
  health.max_status = high;
}

// A host name as the server_name extension carries it (RFC 6066 3): letters, digits, hyphens
// and dots in labels of 1 to 63 bytes, no trailing dot, and not an IP address.
std::optional<std::string> sniError(std::string_view sni) {
  const bool allowed = std::all_of(sni.begin(), sni.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) != 0 || c == '-' || c == '.' || c == '_';
  });
  if (!allowed || sni.back() == '.' || !proto::encodeDnsName(sni)) {
    return fmt::format("invalid server name {}: expected a host name like \"api.example.com\"",
                       quoteText(sni));
  }
  in_addr address{};
  if (::inet_pton(AF_INET, std::string(sni).c_str(), &address) == 1) {
    return fmt::format("{} is an IP address: server_name carries host names only (RFC 6066)",
                       quoteText(sni));
  }
  return std::nullopt;
}

// The check loads the file afresh each time; a file it cannot use is an error now, not a backend
// that times out later.
bool holdsCertificates(const std::string& path) {
  X509_STORE* store = X509_STORE_new();
  if (store == nullptr) return false;
  const bool loaded = X509_STORE_load_file(store, path.c_str()) == 1;
  X509_STORE_free(store);
  ERR_clear_error();
  return loaded;
}

// https: whom the certificate must be from (ca_file, or the system's CAs), the name it must
// carry (sni, else host, else the backend's address), and how early its end is warned about.
void readHttpsTrust(TableReader& reader, HealthConfig& health) {
  if (auto ca_file = reader.name("ca_file")) {
    if (::access(ca_file->c_str(), R_OK) != 0) {
      reader.errors().add(
          reader.originOf("ca_file"),
          fmt::format("cannot read {}: {}", quoteText(*ca_file), std::strerror(errno)));
    } else if (!holdsCertificates(*ca_file)) {
      reader.errors().add(
          reader.originOf("ca_file"),
          fmt::format("{} holds no PEM certificate OpenSSL can read", quoteText(*ca_file)));
    }
    health.ca_file = std::move(*ca_file);
  }
  if (auto sni = reader.name("sni")) {
    if (auto error = sniError(*sni)) reader.errors().add(reader.originOf("sni"), *error);
    health.sni = std::move(*sni);
  }
  if (auto warning = reader.duration("expiry_warning", base::Duration(0), kMaxDuration)) {
    health.expiry_warning = *warning;
  }
}

void readDnsQuestion(TableReader& reader, HealthConfig& health) {
  if (auto name = reader.name("name")) {
    if (auto wire = proto::encodeDnsName(*name); !wire) {
      reader.errors().add(
          reader.originOf("name"),
          fmt::format("invalid name {}: {}", quoteText(*name), wire.error().message()));
    }
    health.dns_name = std::move(*name);
  }
  if (reader.has("type")) {
    if (auto type = reader.choice("type", proto::dnsTypeFromName, kDnsTypeNames)) {
      health.dns_type = *type;
    }
  }
}

// udp: `send` (default: an empty datagram, which a syslog or statsd server ignores) and, for a
// backend that answers, `expect`.
void readUdpProbe(TableReader& reader, HealthConfig& health) {
  if (auto send = readEscaped(reader, "send")) {
    health.send = std::move(*send);
    if (health.send.size() > kMaxUdpPayload) {
      reader.errors().add(
          reader.originOf("send"),
          fmt::format("longer than {} bytes (a UDP datagram's payload)", kMaxUdpPayload));
    }
  }
  if (auto expect = readEscaped(reader, "expect")) {
    health.expect = std::move(*expect);
    health.expect_set = true;
    if (health.expect.size() > proto::kMaxCheckReply) {
      reader.errors().add(reader.originOf("expect"),
                          fmt::format("longer than {} bytes", proto::kMaxCheckReply));
    }
  }
}

}  // namespace

std::optional<proto::Role> parseRole(std::string_view name) {
  if (name == "primary") return proto::Role::kPrimary;
  if (name == "replica") return proto::Role::kReplica;
  if (name == "any") return proto::Role::kAny;
  return std::nullopt;
}

std::span<const std::string_view> roleNames() { return kRoleNames; }

std::string_view checkKindName(CheckKind kind) {
  switch (kind) {
    case CheckKind::kTcp: return "tcp";
    case CheckKind::kSendExpect: return "send-expect";
    case CheckKind::kRedis: return "redis";
    case CheckKind::kMemcached: return "memcached";
    case CheckKind::kHttp: return "http";
    case CheckKind::kMysql: return "mysql";
    case CheckKind::kPgsql: return "pgsql";
    case CheckKind::kTls: return "tls";
    case CheckKind::kHttps: return "https";
    case CheckKind::kDns: return "dns";
    case CheckKind::kUdp: return "udp";
  }
  return "unknown";
}

namespace {

// `check`: which dialog the probes speak. False when it is missing or not one of kCheckNames.
bool readCheck(TableReader& reader, HealthConfig& health) {
  bool ok = true;
  reader.requireKey("check",
                    fmt::format("a health table needs check = one of {}", quotedList(kCheckNames)));
  if (auto name = reader.string("check")) {
    if (auto kind = parseCheckKind(*name)) {
      health.check = *kind;
    } else {
      reader.errors().add(reader.originOf("check"),
                          fmt::format("invalid value {}: expected {}{}", quoteText(*name),
                                      quotedList(kCheckNames), didYouMean(*name, kCheckNames)));
      ok = false;
    }
  } else {
    ok = false;
  }
  return ok;
}

// The options of the check `health.check` names (the others were refused already).
void readCheckOptions(TableReader& reader, HealthConfig& health) {
  switch (health.check) {
    case CheckKind::kSendExpect:
      reader.requireKey("expect", "check = \"send-expect\" needs expect = \"...\"");
      if (auto send = readEscaped(reader, "send")) health.send = std::move(*send);
      if (auto expect = readEscaped(reader, "expect")) health.expect = std::move(*expect);
      if (health.expect.size() > proto::kMaxCheckReply) {
        reader.errors().add(reader.originOf("expect"),
                            fmt::format("longer than {} bytes", proto::kMaxCheckReply));
      }
      break;
    case CheckKind::kRedis: readPasswordFile(reader, health); break;
    case CheckKind::kHttps: readHttpsTrust(reader, health); [[fallthrough]];
    case CheckKind::kHttp:
      if (auto path = reader.name("path")) {
        if (path->front() != '/' || path->find_first_of(" \r\n") != std::string::npos) {
          reader.errors().add(reader.originOf("path"),
                              "must start with / and hold no spaces or line breaks");
        }
        health.path = std::move(*path);
      }
      if (auto host = reader.name("host")) {
        if (host->find_first_of(" \r\n") != std::string::npos) {
          reader.errors().add(reader.originOf("host"), "must hold no spaces or line breaks");
        }
        health.host = std::move(*host);
      }
      readExpectStatus(reader, health);
      break;
    case CheckKind::kPgsql:
      reader.requireKey("user",
                        "check = \"pgsql\" needs user = \"NAME\" (any role that may "
                        "connect; with password_file it logs in)");
      if (auto user = reader.name("user")) health.user = std::move(*user);
      if (auto database = reader.name("database")) health.database = std::move(*database);
      if (health.database.empty()) health.database = health.user;
      readPasswordFile(reader, health);
      break;
    case CheckKind::kMysql:
      // Without a user only the greeting is read; a role needs a login to ask @@read_only.
      if (health.role != proto::Role::kAny) {
        reader.requireKey("user", "role with check = \"mysql\" needs user = \"NAME\"");
      }
      if (auto user = reader.name("user")) health.user = std::move(*user);
      readPasswordFile(reader, health);
      break;
    case CheckKind::kTls:
      if (auto sni = reader.name("sni")) {
        if (auto error = sniError(*sni)) reader.errors().add(reader.originOf("sni"), *error);
        health.sni = std::move(*sni);
      }
      break;
    case CheckKind::kDns: readDnsQuestion(reader, health); break;
    case CheckKind::kUdp: readUdpProbe(reader, health); break;
    case CheckKind::kTcp:
    case CheckKind::kMemcached: break;
  }
}

}  // namespace

std::optional<HealthConfig> readHealth(TableReader& pool, std::string_view key) {
  const toml::table* table = pool.table(key, "a table like { check = \"tcp\", interval = \"1s\" }");
  if (table == nullptr) return std::nullopt;
  TableReader reader(*table, childKey(pool.path(), key), kHealthKeys, pool.errors());
  HealthConfig health;
  const bool ok = readCheck(reader, health);
  if (auto interval = reader.duration("interval", base::Duration(10), kMaxDuration)) {
    health.interval = *interval;
  }
  if (auto timeout = reader.duration("timeout", base::Duration(1), kMaxDuration)) {
    health.timeout = *timeout;
  }
  if (auto rise = reader.integer("rise", 1, kMaxRiseFall)) {
    health.rise = static_cast<std::uint32_t>(*rise);
  }
  if (auto fall = reader.integer("fall", 1, kMaxRiseFall)) {
    health.fall = static_cast<std::uint32_t>(*fall);
  }
  if (ok && reader.has("role") && appliesTo("role", health.check)) {
    if (auto role = reader.choice("role", parseRole, kRoleNames)) health.role = *role;
  }
  if (reader.has("password")) {
    reader.errors().add(reader.originOf("password"),
                        "a password is never written in the config: put it in a file and set "
                        "password_file");
  }
  if (ok) {
    for (std::string_view option : kHealthKeys) {
      if (!reader.has(option) || appliesTo(option, health.check)) continue;
      reader.errors().add(
          reader.originOf(option),
          fmt::format("does not apply to check = {}", quoteText(checkKindName(health.check))));
    }
    readCheckOptions(reader, health);
  }
  reader.reportUnknownKeys();
  if (!ok) return std::nullopt;
  return health;
}

}  // namespace l4lb::config
