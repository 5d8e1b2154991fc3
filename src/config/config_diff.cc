#include "config/config_diff.h"

#include <fmt/format.h>

#include <algorithm>
#include <string_view>

namespace l4lb::config {

namespace {

std::string show(const std::string& text) { return fmt::format("\"{}\"", text); }
std::string show(std::uint32_t n) { return std::to_string(n); }
std::string show(int n) { return std::to_string(n); }
std::string show(bool b) { return b ? "true" : "false"; }
std::string show(base::Duration d) { return base::formatDuration(d); }
std::string show(const base::Rate& rate) {
  if (!rate.enabled()) return "off";
  return fmt::format("{}/{}", rate.count, base::formatDuration(base::Duration(rate.period_ms)));
}
std::string show(SendProxy mode) {
  switch (mode) {
    case SendProxy::kOff: return "off";
    case SendProxy::kV1: return "v1";
    case SendProxy::kV2: return "v2";
  }
  return "?";
}
std::string show(std::uint8_t retry_on) {
  std::string out;
  const auto& names = retryOnNames();
  for (std::size_t bit = 0; bit < names.size(); ++bit) {
    if ((retry_on & (1U << bit)) == 0) continue;
    if (!out.empty()) out += ",";
    out += names[bit];
  }
  return "[" + out + "]";
}

// Adds "WHERE: KEY A -> B" to `out` when A != B.
class Differ {
 public:
  Differ(std::vector<std::string>& out, std::string where) : out_(out), where_(std::move(where)) {}

  template <typename T>
  void field(std::string_view key, const T& before, const T& after) {
    if (before == after) return;
    out_.push_back(fmt::format("{}: {} {} -> {}", where_, key, show(before), show(after)));
  }
  void note(std::string_view what) { out_.push_back(fmt::format("{}: {}", where_, what)); }

 private:
  std::vector<std::string>& out_;
  std::string where_;
};

bool sameCidrs(const net::CidrList& a, const net::CidrList& b) { return a.ranges() == b.ranges(); }

bool sameRoutes(const std::vector<RouteConfig>& a, const std::vector<RouteConfig>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const std::string sni_a = a[i].sni ? a[i].sni->text() : "";
    const std::string sni_b = b[i].sni ? b[i].sni->text() : "";
    if (sni_a != sni_b || a[i].alpn != b[i].alpn || a[i].pool != b[i].pool) return false;
  }
  return true;
}

void diffListener(std::vector<std::string>& out, const ListenerConfig& a, const ListenerConfig& b) {
  Differ d(out, fmt::format("listener \"{}\"", a.name));
  d.field("bind", a.bind.url, b.bind.url);
  d.field("pool", a.pool, b.pool);
  d.field("idle_timeout", a.idle_timeout, b.idle_timeout);
  d.field("backlog", a.backlog, b.backlog);
  d.field("max_connections", a.max_connections, b.max_connections);
  d.field("per_source_max_connections", a.per_source_max_connections, b.per_source_max_connections);
  if (a.per_source_rate.count != b.per_source_rate.count ||
      a.per_source_rate.period_ms != b.per_source_rate.period_ms) {
    d.note(
        fmt::format("per_source_rate {} -> {}", show(a.per_source_rate), show(b.per_source_rate)));
  }
  if (!sameCidrs(a.allow, b.allow)) {
    d.note(fmt::format("allow {} -> {} ranges", a.allow.size(), b.allow.size()));
  }
  if (!sameCidrs(a.deny, b.deny)) {
    d.note(fmt::format("deny {} -> {} ranges", a.deny.size(), b.deny.size()));
  }
  d.field("proxy_protocol accept", a.proxy_accept, b.proxy_accept);
  if (!sameCidrs(a.proxy_trusted, b.proxy_trusted)) d.note("proxy_trusted changed");
  d.field("proxy_timeout", a.proxy_timeout, b.proxy_timeout);
  if (!sameRoutes(a.routes, b.routes)) {
    d.note(fmt::format("routes changed ({} -> {})", a.routes.size(), b.routes.size()));
  }
  d.field("inspect_timeout", a.inspect_timeout, b.inspect_timeout);
  d.field("tls_required", a.tls_required, b.tls_required);
  d.field("announce", a.announce, b.announce);
  if (a.forward != b.forward) {
    d.note(fmt::format("forward \"{}\" -> \"{}\"", forwardName(a.forward), forwardName(b.forward)));
  }
  if (a.interface != b.interface) {
    d.note(fmt::format("interface \"{}\" -> \"{}\"", a.interface, b.interface));
  }
  if (a.announce_min_backends != b.announce_min_backends) d.note("announce_min_backends changed");
}

bool sameHealth(const HealthConfig& a, const HealthConfig& b) {
  return a.check == b.check && a.interval == b.interval && a.timeout == b.timeout &&
         a.rise == b.rise && a.fall == b.fall && a.send == b.send && a.expect == b.expect &&
         a.password == b.password && a.path == b.path && a.host == b.host &&
         a.min_status == b.min_status && a.max_status == b.max_status && a.user == b.user &&
         a.database == b.database && a.role == b.role && a.sni == b.sni &&
         a.dns_name == b.dns_name && a.dns_type == b.dns_type;
}

void diffHealth(Differ& d, const std::optional<HealthConfig>& a,
                const std::optional<HealthConfig>& b) {
  if (!a && !b) return;
  if (!a) return d.note(fmt::format("+health check {}", checkKindName(b->check)));
  if (!b) return d.note(fmt::format("-health check {}", checkKindName(a->check)));
  if (sameHealth(*a, *b)) return;
  if (a->check != b->check) {
    d.note(fmt::format("health check {} -> {}", checkKindName(a->check), checkKindName(b->check)));
    return;
  }
  bool said = false;
  auto field = [&](std::string_view key, const auto& x, const auto& y) {
    if (x == y) return;
    d.note(fmt::format("health {} {} -> {}", key, show(x), show(y)));
    said = true;
  };
  field("interval", a->interval, b->interval);
  field("timeout", a->timeout, b->timeout);
  field("rise", a->rise, b->rise);
  field("fall", a->fall, b->fall);
  // The rest are the check's own (what it sends, expects, logs in as): named, never shown (a
  // password may be among them).
  if (!said) d.note(fmt::format("health {} check settings changed", checkKindName(b->check)));
}

const BackendConfig* findBackend(const PoolConfig& pool, const std::string& name) {
  for (const auto& backend : pool.backends) {
    if (backend.name == name) return &backend;
  }
  return nullptr;
}

std::string backendLabel(const BackendConfig& backend) {
  if (backend.name == backend.address.url) return backend.name;
  return fmt::format("{} ({})", backend.name, backend.address.url);
}

void diffPool(std::vector<std::string>& out, const PoolConfig& a, const PoolConfig& b) {
  Differ d(out, fmt::format("pool \"{}\"", a.name));
  for (const auto& backend : b.backends) {
    if (findBackend(a, backend.name) == nullptr) {
      d.note(fmt::format("+backend {} weight {}{}", backendLabel(backend), backend.weight,
                         backend.backup ? " backup" : ""));
    }
  }
  for (const auto& backend : a.backends) {
    if (findBackend(b, backend.name) == nullptr) d.note("-backend " + backendLabel(backend));
  }
  for (const auto& old : a.backends) {
    const BackendConfig* now = findBackend(b, old.name);
    if (now == nullptr) continue;
    Differ bd(out, fmt::format("pool \"{}\": backend {}", a.name, old.name));
    bd.field("address", old.address.url, now->address.url);
    bd.field("weight", old.weight, now->weight);
    bd.field("backup", old.backup, now->backup);
    bd.field("max_connections", old.max_connections, now->max_connections);
  }
  if (a.balance != b.balance) {
    d.note(fmt::format("balance {} -> {}", balance::algorithmName(a.balance),
                       balance::algorithmName(b.balance)));
  }
  if (a.hash_key != b.hash_key) {
    d.note(fmt::format("hash_key {} -> {}", balance::hashKeyName(a.hash_key),
                       balance::hashKeyName(b.hash_key)));
  }
  d.field("maglev_table_size", a.maglev_table_size, b.maglev_table_size);
  d.field("connect_timeout", a.connect_timeout, b.connect_timeout);
  d.field("queue_timeout", a.queue_timeout, b.queue_timeout);
  d.field("queue_max", a.queue_max, b.queue_max);
  d.field("retries", a.retries, b.retries);
  d.field("retry_on", a.retry_on, b.retry_on);
  diffHealth(d, a.health, b.health);
  d.field("slow_start", a.slow_start, b.slow_start);
  d.field("eject_after", a.eject_after, b.eject_after);
  d.field("eject_for", a.eject_for, b.eject_for);
  d.field("send_proxy", a.send_proxy, b.send_proxy);
  d.field("source", a.source.text.empty() ? std::string("auto") : a.source.text,
          b.source.text.empty() ? std::string("auto") : b.source.text);
}

template <typename T>
const T* findByName(const std::vector<T>& items, const std::string& name) {
  auto it = std::find_if(items.begin(), items.end(), [&](const T& x) { return x.name == name; });
  return it == items.end() ? nullptr : &*it;
}

}  // namespace

std::vector<std::string> diffConfigs(const Config& before, const Config& after) {
  std::vector<std::string> out;
  for (const auto& listener : after.listeners) {
    if (findByName(before.listeners, listener.name) == nullptr) {
      out.push_back(fmt::format("+listener \"{}\" ({})", listener.name, listener.bind.url));
    }
  }
  for (const auto& listener : before.listeners) {
    if (findByName(after.listeners, listener.name) == nullptr) {
      out.push_back(fmt::format("-listener \"{}\" ({})", listener.name, listener.bind.url));
    }
  }
  for (const auto& pool : after.pools) {
    if (findByName(before.pools, pool.name) == nullptr) {
      out.push_back(fmt::format("+pool \"{}\" ({} backends)", pool.name, pool.backends.size()));
    }
  }
  for (const auto& pool : before.pools) {
    if (findByName(after.pools, pool.name) == nullptr) {
      out.push_back(fmt::format("-pool \"{}\"", pool.name));
    }
  }
  for (const auto& listener : before.listeners) {
    if (const auto* now = findByName(after.listeners, listener.name)) {
      diffListener(out, listener, *now);
    }
  }
  for (const auto& pool : before.pools) {
    if (const auto* now = findByName(after.pools, pool.name)) diffPool(out, pool, *now);
  }
  Differ global(out, "global");
  if (before.global.log_level != after.global.log_level) {
    global.note(fmt::format("log_level {} -> {}", base::logLevelName(before.global.log_level),
                            base::logLevelName(after.global.log_level)));
  }
  global.field("shutdown_grace", before.global.shutdown_grace, after.global.shutdown_grace);
  global.field("busy_poll_us", before.global.busy_poll_us, after.global.busy_poll_us);
  global.field("max_connections", before.global.max_connections, after.global.max_connections);
  global.field("splice", before.global.splice, after.global.splice);
  global.field("workers", before.global.workers, after.global.workers);
  global.field("access_log", before.global.access_log, after.global.access_log);
  global.field("user", before.global.user, after.global.user);
  global.field("group", before.global.group, after.global.group);
  global.field("announce_interface", before.global.announce_interface,
               after.global.announce_interface);
  global.field("announce_min_backends", before.global.announce_min_backends,
               after.global.announce_min_backends);
  global.field("announce_hold_down", before.global.announce_hold_down,
               after.global.announce_hold_down);
  global.field("announce_hold_down_max", before.global.announce_hold_down_max,
               after.global.announce_hold_down_max);
  global.field("withdraw_grace", before.global.withdraw_grace, after.global.withdraw_grace);
  return out;
}

std::string joinChanges(const std::vector<std::string>& changes, std::size_t limit) {
  std::string out;
  const std::size_t shown = std::min(changes.size(), limit);
  for (std::size_t i = 0; i < shown; ++i) {
    if (!out.empty()) out += "; ";
    out += changes[i];
  }
  if (changes.size() > shown) out += fmt::format("; ... and {} more", changes.size() - shown);
  return out;
}

}  // namespace l4lb::config
