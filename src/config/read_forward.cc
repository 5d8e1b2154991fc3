#include "config/read_forward.h"

#include <fmt/format.h>
#include <netinet/in.h>

#include <array>
#include <cstring>
#include <string_view>

#include "net/address_literal.h"
#include "net/tun_device.h"

namespace l4lb::config {

namespace {

using namespace std::string_view_literals;

constexpr std::array kForwardNames = {"proxy"sv, "dsr"sv, "ipip"sv};

// The listener keys that mean nothing without a socket: a packet-path listener reports each.
// name, bind, pool, forward and interface are the packet path's own.
constexpr std::array kProxyOnlyKeys = {"idle_timeout"sv,
                                       "backlog"sv,
                                       "max_flows"sv,
                                       "responses"sv,
                                       "flow_idle_timeout"sv,
                                       "mq_max_messages"sv,
                                       "mq_message_size"sv,
                                       "max_connections"sv,
                                       "per_source_max_connections"sv,
                                       "per_source_rate"sv,
                                       "per_source_max_flows"sv,
                                       "allow"sv,
                                       "deny"sv,
                                       "proxy_protocol"sv,
                                       "proxy_trusted"sv,
                                       "proxy_timeout"sv,
                                       "routes"sv,
                                       "inspect_timeout"sv,
                                       "tls_required"sv,
                                       "mode"sv,
                                       "user"sv,
                                       "group"sv,
                                       "announce"sv,
                                       "announce_min_backends"sv};

std::optional<Forward> parseForward(std::string_view text) {
  if (text == "proxy") return Forward::kProxy;
  if (text == "dsr") return Forward::kDsr;
  if (text == "ipip") return Forward::kIpip;
  return std::nullopt;
}

std::uint16_t portOf(const net::Endpoint& endpoint) {
  if (endpoint.family() == AF_INET) {
    return ntohs(reinterpret_cast<const sockaddr_in*>(&endpoint.addr)->sin_port);
  }
  if (endpoint.family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&endpoint.addr)->sin6_port);
  }
  return 0;
}

bool isWildcardAddress(const net::Endpoint& endpoint) {
  if (endpoint.family() == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(&endpoint.addr)->sin_addr.s_addr == INADDR_ANY;
  }
  const auto& address = reinterpret_cast<const sockaddr_in6*>(&endpoint.addr)->sin6_addr;
  return std::memcmp(&address, &in6addr_any, sizeof(address)) == 0;
}

// "tcp://192.0.2.1:80" and "udp://[2001:db8::1]:53" are literals; "tcp://web1:80" was resolved.
bool isIpLiteral(const net::Endpoint& endpoint) {
  const std::string_view url = endpoint.url;
  const auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return false;
  return static_cast<bool>(net::parseAddressLiteral(url.substr(scheme + 3)));
}

std::string_view familyText(int family) { return family == AF_INET6 ? "IPv6" : "IPv4"; }

const PoolDraft* poolNamed(const ConfigDraft& draft, std::string_view name) {
  for (const PoolDraft& pool : draft.pools) {
    if (pool.config.name == name) return &pool;
  }
  return nullptr;
}

// Why one of the proxy path's keys cannot apply to a packet-path listener.
std::string proxyKeyMessage(std::string_view key, std::string_view forward) {
  if (key.ends_with("proxy_protocol") || key.ends_with("proxy_trusted") ||
      key.ends_with("proxy_timeout")) {
    return fmt::format(
        "forward = \"{}\" cannot accept a PROXY protocol header: the packet path "
        "forwards packets without terminating the connection, so nothing reads "
        "a header before the backend does (use forward = \"proxy\")",
        forward);
  }
  if (key.ends_with("routes") || key.ends_with("inspect_timeout") ||
      key.ends_with("tls_required")) {
    return fmt::format(
        "forward = \"{}\" cannot route on SNI or ALPN: the backend is picked on "
        "the connection's first packet, before any ClientHello (use forward = "
        "\"proxy\")",
        forward);
  }
  return fmt::format(
      "only applies to forward = \"proxy\": a forward = \"{}\" listener binds no "
      "socket, so there is nothing to limit or filter there",
      forward);
}

void checkPacketPool(const ListenerDraft& listener, const PoolDraft& pool, ErrorList& errors) {
  const ListenerConfig& config = listener.config;
  const std::string_view forward = forwardName(config.forward);
  if (pool.config.balance != balance::Algorithm::kMaglev) {
    errors.add(listener.pool,
               fmt::format("pool {} balances with {}; forward = \"{}\" needs balance = "
                           "\"maglev\" (the XDP program picks from the pool's Maglev table)",
                           quoteText(pool.config.name), balance::algorithmName(pool.config.balance),
                           forward));
  }
  if (pool.send_proxy && pool.config.send_proxy != SendProxy::kOff) {
    errors.add(*pool.send_proxy,
               fmt::format("pool {} serves forward = \"{}\" listener {}: no PROXY header can be "
                           "sent on the packet path (the backend gets the client's own packets, "
                           "and so its address)",
                           quoteText(pool.config.name), forward, quoteText(config.name)));
  }
  if (pool.source && pool.config.source.kind != SourceKind::kAuto) {
    errors.add(*pool.source,
               fmt::format("pool {} serves forward = \"{}\" listener {}: packets keep the "
                           "client's source address, there is no connection to bind a source to",
                           quoteText(pool.config.name), forward, quoteText(config.name)));
  }
  if (pool.discover) {
    errors.add(*pool.discover,
               fmt::format("pool {} serves forward = \"{}\" listener {}: discovered backends are "
                           "not supported on the packet path yet; list them in backends",
                           quoteText(pool.config.name), forward, quoteText(config.name)));
  }
  const std::uint16_t vip_port = portOf(config.bind);
  for (const BackendDraft& backend : pool.backends) {
    if (!backend.address_ok) continue;
    const net::Endpoint& address = backend.config.address;
    if (address.kind != net::EndpointKind::kTcp && address.kind != net::EndpointKind::kUdp) {
      errors.add(backend.address,
                 fmt::format("pool {} serves forward = \"{}\" listener {}: its backends are IP "
                             "addresses (tcp://IP:PORT, udp://IP:PORT), not {}",
                             quoteText(pool.config.name), forward, quoteText(config.name),
                             quoteText(address.url)));
      continue;
    }
    if (!isIpLiteral(address)) {
      errors.add(backend.address,
                 fmt::format("pool {} serves forward = \"{}\" listener {}: write the backend's IP "
                             "address, not a name ({}): the packet path forwards to addresses "
                             "fixed when the config is read",
                             quoteText(pool.config.name), forward, quoteText(config.name),
                             quoteText(address.url)));
      continue;
    }
    if (portOf(address) != vip_port) {
      errors.add(backend.address,
                 fmt::format("backend {} has port {} but listener {} (forward = \"{}\") has port "
                             "{}: no port change on the packet path (the backend gets the "
                             "client's packet to the VIP as it was sent)",
                             quoteText(address.url), portOf(address), quoteText(config.name),
                             forward, vip_port));
    }
    if (config.forward == Forward::kDsr && address.family() != config.bind.family()) {
      errors.add(backend.address,
                 fmt::format("backend {} is {} but listener {} has an {} VIP: forward = \"dsr\" "
                             "only changes MAC addresses, so backends are of the VIP's family "
                             "(forward = \"ipip\" can carry one in the other)",
                             quoteText(address.url), familyText(address.family()),
                             quoteText(config.name), familyText(config.bind.family())));
    }
  }
}

// The proxy path's connection keys of a pool only packet-path listeners use, and its backends'
// max_connections: nothing on the packet path opens, queues, retries or counts connections.
void checkPacketOnlyPool(const PoolDraft& pool, const ListenerDraft& listener, ErrorList& errors) {
  const std::string_view forward = forwardName(listener.config.forward);
  for (const Origin& key : pool.proxy_keys) {
    errors.add(key,
               fmt::format("only applies to forward = \"proxy\": pool {} serves forward = "
                           "\"{}\" listener {} (and no proxy listener), whose XDP program "
                           "sends each packet on as it is: no connection of l4lb's own to "
                           "time out, queue, retry, eject or ramp up",
                           quoteText(pool.config.name), forward, quoteText(listener.config.name)));
  }
  for (const BackendDraft& backend : pool.backends) {
    for (const ScopedKey& key : backend.scoped_keys) {
      if (!key.origin.key.ends_with("max_connections")) continue;
      errors.add(
          key.origin,
          fmt::format("only applies to forward = \"proxy\": pool {} serves forward = "
                      "\"{}\" listener {} (and no proxy listener), and the XDP program "
                      "does not count connections (use weight to share the load)",
                      quoteText(pool.config.name), forward, quoteText(listener.config.name)));
    }
  }
}

void checkPacketListener(const ConfigDraft& draft, const ListenerDraft& listener,
                         ErrorList& errors) {
  const ListenerConfig& config = listener.config;
  const std::string_view forward = forwardName(config.forward);
  const Origin& at = *listener.forward;
  for (const Origin& key : listener.proxy_keys) {
    errors.add(key, proxyKeyMessage(key.key, forward));
  }
  if (!listener.interface) {
    errors.add(at, fmt::format("forward = \"{}\" needs interface = \"NAME\": the interface the "
                               "VIP's packets arrive on, where the XDP program is attached",
                               forward));
  }
  if (!listener.bind_ok) return;
  const net::Endpoint& bind = config.bind;
  if (bind.kind != net::EndpointKind::kTcp && bind.kind != net::EndpointKind::kUdp) {
    errors.add(listener.bind,
               fmt::format("forward = \"{}\" forwards IP packets: its bind is the VIP, "
                           "tcp://IP:PORT or udp://IP:PORT, not {}",
                           forward, quoteText(bind.url)));
    return;
  }
  if (!isIpLiteral(bind) || isWildcardAddress(bind) || portOf(bind) == 0) {
    errors.add(listener.bind,
               fmt::format("forward = \"{}\" binds one VIP: an IP address (no name, no wildcard) "
                           "and a port other than 0, not {}",
                           forward, quoteText(bind.url)));
    return;
  }
  if (!listener.pool_set) return;
  if (const PoolDraft* pool = poolNamed(draft, config.pool)) {
    checkPacketPool(listener, *pool, errors);
  }
}

}  // namespace

std::string_view forwardName(Forward forward) {
  return kForwardNames[static_cast<std::size_t>(forward)];
}

void readListenerForward(TableReader& reader, ListenerDraft& draft) {
  if (reader.has("forward")) draft.forward = reader.originOf("forward");
  if (auto forward = reader.choice("forward", parseForward, kForwardNames)) {
    draft.config.forward = *forward;
  }
  if (reader.has("interface")) draft.interface = reader.originOf("interface");
  if (auto name = reader.name("interface")) {
    if (net::validInterfaceName(*name)) {
      draft.config.interface = std::move(*name);
    } else {
      reader.errors().add(reader.originOf("interface"),
                          "must be an interface name of 1 to 15 bytes, without '/', ':' or "
                          "spaces (e.g. \"eth0\")");
    }
  }
  for (std::string_view key : kProxyOnlyKeys) {
    if (reader.has(key)) draft.proxy_keys.push_back(reader.originOf(key));
  }
}

void checkForward(const ConfigDraft& draft, ErrorList& errors) {
  const ListenerDraft* first_packet = nullptr;
  for (const ListenerDraft& listener : draft.listeners) {
    if (listener.config.packetPath() && listener.forward) {
      if (first_packet == nullptr) first_packet = &listener;
      checkPacketListener(draft, listener, errors);
    } else if (listener.interface) {
      errors.add(*listener.interface,
                 "only applies to forward = \"dsr\" or \"ipip\" (the packet path): a proxy "
                 "listener takes its clients on its bind address, whatever the interface");
    }
  }
  if (first_packet == nullptr) return;
  if (draft.run_as) {
    errors.add(*draft.run_as,
               fmt::format("listener {} has forward = \"{}\": l4lb writes the XDP program's maps "
                           "as long as it runs (health, operator changes, reloads), and the "
                           "kernel allows that only with CAP_BPF, which a change of user drops; "
                           "run l4lb as root to serve the packet path",
                           quoteText(first_packet->config.name),
                           forwardName(first_packet->config.forward)));
  }
  // Pools that only packet-path listeners use: the proxy path's connection keys there.
  for (const PoolDraft& pool : draft.pools) {
    const ListenerDraft* packet = nullptr;
    bool proxied = false;
    for (const ListenerDraft& listener : draft.listeners) {
      const bool uses = listener.pool_set && listener.config.pool == pool.config.name;
      bool routed = false;
      for (const auto& route : listener.config.routes) routed |= route.pool == pool.config.name;
      if (!uses && !routed) continue;
      if (listener.config.packetPath() && uses) {
        if (packet == nullptr) packet = &listener;
      } else {
        proxied = true;
      }
    }
    if (packet != nullptr && !proxied) checkPacketOnlyPool(pool, *packet, errors);
  }
}

}  // namespace l4lb::config
