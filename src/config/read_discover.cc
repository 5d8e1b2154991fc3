#include "config/read_discover.h"

#include <fmt/format.h>

#include <array>
#include <charconv>

#include "config/limits.h"
#include "net/endpoint.h"

namespace l4lb::config {

namespace {

using namespace std::string_view_literals;

constexpr std::array kDiscoverKeys = {"dns"sv,          "type"sv,    "port"sv,     "server"sv,
                                      "etcd"sv,         "prefix"sv,  "protocol"sv, "interval"sv,
                                      "min_interval"sv, "timeout"sv, "settle"sv,   "max_removed"sv};

std::optional<DnsRecordType> parseDnsRecordType(std::string_view text) {
  if (text == "SRV") return DnsRecordType::kSrv;
  if (text == "A") return DnsRecordType::kA;
  if (text == "AAAA") return DnsRecordType::kAaaa;
  return std::nullopt;
}

constexpr std::array kDnsTypeNames = {"SRV"sv, "A"sv, "AAAA"sv};
constexpr std::array kProtocolNames = {"tcp"sv, "udp"sv};

std::optional<bool> parseDatagram(std::string_view text) {
  if (text == "tcp") return false;
  if (text == "udp") return true;
  return std::nullopt;
}

void readDns(TableReader& reader, DiscoverConfig& discover) {
  discover.kind = DiscoverKind::kDns;
  if (auto name = reader.name("dns")) discover.dns_name = std::move(*name);
  if (auto type = reader.choice("type", parseDnsRecordType, kDnsTypeNames)) discover.type = *type;
  if (auto port = reader.integer("port", 1, 65535)) {
    discover.port = static_cast<std::uint16_t>(*port);
  }
  if (discover.type == DnsRecordType::kSrv && reader.has("port")) {
    reader.errors().add(reader.originOf("port"),
                        "SRV records carry their own port; port applies to type = \"A\" and "
                        "\"AAAA\"");
  } else if (discover.type != DnsRecordType::kSrv && !reader.has("port")) {
    reader.errors().add(reader.originOf("type"),
                        fmt::format("type = \"{}\" needs port = N: A and AAAA records carry no "
                                    "port",
                                    dnsRecordTypeName(discover.type)));
  }
  if (auto server = reader.name("server")) {
    // Checked as an address now, so a typo is a config error, not a resolver error later.
    if (auto parsed = net::parseEndpoint("udp://" + *server);
        !parsed || (parsed->family() != AF_INET && parsed->family() != AF_INET6)) {
      reader.errors().add(reader.originOf("server"),
                          fmt::format("expected \"IP:PORT\" (\"127.0.0.1:53\", \"[::1]:53\"), got "
                                      "\"{}\"",
                                      *server));
    } else {
      discover.server = net::formatSockaddr(parsed->sockaddrPtr(), parsed->addr_len);
    }
  }
  for (std::string_view etcd_only : {"prefix"sv}) {
    if (reader.has(etcd_only)) {
      reader.errors().add(reader.originOf(etcd_only), "applies to etcd discovery only");
    }
  }
}

void readEtcd(TableReader& reader, DiscoverConfig& discover) {
  discover.kind = DiscoverKind::kEtcd;
  if (auto url = reader.name("etcd")) {
    if (!url->starts_with("http://")) {
      reader.errors().add(reader.originOf("etcd"),
                          "expected \"http://HOST:PORT\" (etcd's JSON gateway, plain HTTP)");
    }
    discover.etcd_url = std::move(*url);
  }
  reader.requireKey("prefix", "etcd discovery needs prefix = \"/services/NAME/\"");
  if (auto prefix = reader.name("prefix")) discover.prefix = std::move(*prefix);
  for (std::string_view dns_only : {"type"sv, "port"sv, "server"sv}) {
    if (reader.has(dns_only)) {
      reader.errors().add(reader.originOf(dns_only), "applies to dns discovery only");
    }
  }
}

}  // namespace

std::optional<RemovalCap> parseRemovalCap(std::string_view text) {
  RemovalCap cap;
  cap.percent = text.ends_with('%');
  if (cap.percent) text.remove_suffix(1);
  if (text.empty()) return std::nullopt;
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), cap.value);
  if (ec != std::errc() || end != text.data() + text.size()) return std::nullopt;
  if (cap.percent && cap.value > 100) return std::nullopt;
  return cap;
}

std::optional<DiscoverConfig> readDiscover(TableReader& pool, std::string_view key) {
  const toml::table* table =
      pool.table(key,
                 "a table like { dns = \"_redis._tcp.example\", type = \"SRV\" } or "
                 "{ etcd = \"http://127.0.0.1:2379\", prefix = \"/services/redis/\" }");
  if (table == nullptr) return std::nullopt;
  TableReader reader(*table, childKey(pool.path(), key), kDiscoverKeys, pool.errors());
  DiscoverConfig discover;
  const bool dns = reader.has("dns");
  const bool etcd = reader.has("etcd");
  if (dns == etcd) {
    reader.errors().add(reader.origin(),
                        dns ? "either dns or etcd, not both"
                            : "needs dns = \"NAME\" or etcd = \"http://HOST:PORT\"");
  } else if (dns) {
    readDns(reader, discover);
  } else {
    readEtcd(reader, discover);
  }
  if (auto datagram = reader.choice("protocol", parseDatagram, kProtocolNames)) {
    discover.datagram = *datagram;
  }
  if (auto interval = reader.duration("interval", base::Duration(100), kMaxDuration)) {
    discover.interval = *interval;
  }
  if (auto least = reader.duration("min_interval", base::Duration(100), kMaxDuration)) {
    discover.min_interval = *least;
  }
  if (discover.min_interval > discover.interval) {
    reader.errors().add(reader.originOf(reader.has("min_interval") ? "min_interval" : "interval"),
                        fmt::format("min_interval ({}) must not exceed interval ({})",
                                    base::formatDuration(discover.min_interval),
                                    base::formatDuration(discover.interval)));
  }
  if (auto timeout = reader.duration("timeout", base::Duration(10), kMaxDuration)) {
    discover.timeout = *timeout;
  }
  if (auto settle = reader.duration("settle", base::Duration(0), kMaxDuration)) {
    discover.settle = *settle;
  }
  if (auto text = reader.string("max_removed")) {
    if (auto cap = parseRemovalCap(*text)) {
      discover.max_removed = *cap;
    } else {
      reader.errors().add(reader.originOf("max_removed"),
                          fmt::format("expected a share like \"50%\" (0 to 100) or a count like "
                                      "\"2\", got \"{}\"",
                                      *text));
    }
  }
  reader.reportUnknownKeys();
  if (dns == etcd) return std::nullopt;
  return discover;
}

std::string_view dnsRecordTypeName(DnsRecordType type) {
  switch (type) {
    case DnsRecordType::kSrv: return "SRV";
    case DnsRecordType::kA: return "A";
    case DnsRecordType::kAaaa: return "AAAA";
  }
  return "?";
}

std::uint32_t RemovalCap::allowed(std::size_t applied) const {
  if (!percent) return value;
  return static_cast<std::uint32_t>(applied * value / 100);
}

std::string DiscoverConfig::label() const {
  if (kind == DiscoverKind::kEtcd) return "etcd:" + prefix;
  return "dns:" + dns_name;
}

}  // namespace l4lb::config
