#include "config/draft.h"

#include <fmt/format.h>
#include <netinet/in.h>
#include <sys/un.h>

#include <cstring>
#include <map>
#include <utility>

#include "balance/maglev_table.h"
#include "config/read_announce.h"
#include "config/read_forward.h"
#include "config/secret_files.h"
#include "config/suggest.h"

namespace l4lb::config {

namespace {

bool isAnyPort(const net::Endpoint& endpoint) {
  if (endpoint.kind != net::EndpointKind::kTcp && endpoint.kind != net::EndpointKind::kUdp) {
    return false;
  }
  if (endpoint.family() == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(&endpoint.addr)->sin_port == 0;
  }
  if (endpoint.family() == AF_INET6) {
    return reinterpret_cast<const sockaddr_in6*>(&endpoint.addr)->sin6_port == 0;
  }
  return false;
}

// Two listeners binding the same socket address would fail at bind(2) (or, with SO_REUSEPORT,
// silently split traffic between them). Port 0 asks the kernel for a fresh port, so two of those
// never collide.
bool sameBind(const net::Endpoint& a, const net::Endpoint& b) {
  if (a.kind != b.kind || a.addr_len != b.addr_len) return false;
  if (a.kind == net::EndpointKind::kMessageQueue) return a.url == b.url;
  if (std::memcmp(&a.addr, &b.addr, a.addr_len) != 0) return false;
  return !isAnyPort(a);
}

void checkBackends(const PoolDraft& pool, ErrorList& errors) {
  if (pool.backends.empty()) {
    // A pool whose backends are all discovered starts with none: its listeners accept and
    // close (end "no-backend") until the first answer (README.md, "Discovery").
    if (pool.discover) return;
    if (!pool.backends_reported) {
      errors.add(pool.backends_origin, "at least one backend is required");
    }
    return;
  }
  std::map<std::string_view, const BackendDraft*> seen;
  for (const BackendDraft& backend : pool.backends) {
    // A backend with neither name nor address has that reported already.
    if (backend.config.name.empty()) continue;
    auto [it, inserted] = seen.emplace(backend.config.name, &backend);
    if (inserted) continue;
    std::string message = fmt::format("duplicate backend name {} in pool {} (also {})",
                                      quoteText(backend.config.name), quoteText(pool.config.name),
                                      it->second->name.key);
    if (backend.name_defaulted) {
      message += "; a backend without a name is named by its address, so give one of them a name";
    }
    errors.add(backend.name, std::move(message));
  }
}

void checkBalance(const PoolDraft& pool, ErrorList& errors) {
  const bool maglev = pool.config.balance == balance::Algorithm::kMaglev;
  if (!maglev) {
    if (pool.hash_key_set) {
      errors.add(pool.hash_key, "only applies to balance = \"maglev\"");
    }
    if (pool.table_size_set) {
      errors.add(pool.table_size, "only applies to balance = \"maglev\"");
    }
    return;
  }
  const std::uint32_t size = pool.config.maglev_table_size;
  if (pool.table_size_set && !balance::isPrime(size)) {
    // Maglev's permutation walk only visits every slot when the table size is prime.
    errors.add(pool.table_size,
               fmt::format("must be a prime number; {} is not (the next prime is {})", size,
                           balance::nextPrime(size)));
    return;
  }
  if (size < pool.backends.size()) {
    if (pool.table_size_set) {
      errors.add(pool.table_size,
                 fmt::format("must be at least the number of backends ({}); the next prime "
                             "that large is {}",
                             pool.backends.size(),
                             balance::nextPrime(static_cast<std::uint32_t>(pool.backends.size()))));
    } else {
      errors.add(pool.balance,
                 fmt::format("the default maglev_table_size ({}) is smaller than the number of "
                             "backends ({}); set maglev_table_size to a prime at least {}",
                             size, pool.backends.size(),
                             balance::nextPrime(static_cast<std::uint32_t>(pool.backends.size()))));
    }
  }
}

void checkListenerNames(const std::vector<ListenerDraft>& listeners, ErrorList& errors) {
  std::map<std::string_view, const ListenerDraft*> seen;
  for (const ListenerDraft& listener : listeners) {
    auto [it, inserted] = seen.emplace(listener.config.name, &listener);
    if (!inserted) {
      errors.add(listener.name, fmt::format("duplicate listener name {} (also {})",
                                            quoteText(listener.config.name), it->second->name.key));
    }
  }
}

void checkBinds(const std::vector<ListenerDraft>& listeners, ErrorList& errors) {
  for (std::size_t i = 0; i < listeners.size(); ++i) {
    if (!listeners[i].bind_ok) continue;
    for (std::size_t j = 0; j < i; ++j) {
      if (!listeners[j].bind_ok || !sameBind(listeners[i].config.bind, listeners[j].config.bind)) {
        continue;
      }
      errors.add(
          listeners[i].bind,
          fmt::format("{} is the same address as {} ({})", quoteText(listeners[i].config.bind.url),
                      listeners[j].bind.key, quoteText(listeners[j].config.bind.url)));
      break;
    }
  }
}

std::string_view styleName(bool stream) { return stream ? "stream" : "datagram"; }

// Reports each key written on a listener or backend whose address kind it does not apply to.
void checkScopedKeys(const std::vector<ScopedKey>& keys, const net::Endpoint& endpoint,
                     ErrorList& errors) {
  for (const ScopedKey& key : keys) {
    switch (key.scope) {
      case KeyScope::kStream:
        if (!endpoint.isStream()) {
          errors.add(key.origin,
                     fmt::format("only applies to stream listeners (tcp://, unix://); {} is a "
                                 "datagram address{}",
                                 quoteText(endpoint.url),
                                 key.origin.key.ends_with("idle_timeout")
                                     ? " (datagram listeners have flow_idle_timeout)"
                                     : ""));
        }
        break;
      case KeyScope::kDatagram:
        if (endpoint.isStream()) {
          errors.add(key.origin, fmt::format("only applies to datagram listeners (udp://, "
                                             "unixgram://, mq://); {} is a stream address",
                                             quoteText(endpoint.url)));
        }
        break;
      case KeyScope::kTcp:
      case KeyScope::kUdp:
      case KeyScope::kIp: {
        const bool tcp = endpoint.kind == net::EndpointKind::kTcp;
        const bool udp = endpoint.kind == net::EndpointKind::kUdp;
        const bool fits = key.scope == KeyScope::kTcp   ? tcp
                          : key.scope == KeyScope::kUdp ? udp
                                                        : tcp || udp;
        if (!fits) {
          errors.add(key.origin, fmt::format("only applies to {} listeners, whose clients have "
                                             "an IP address; {} has none",
                                             key.scope == KeyScope::kTcp   ? "tcp://"
                                             : key.scope == KeyScope::kUdp ? "udp://"
                                                                           : "tcp:// and udp://",
                                             quoteText(endpoint.url)));
        }
        break;
      }
      case KeyScope::kUnixFile:
        if (endpoint.family() == AF_UNIX &&
            reinterpret_cast<const sockaddr_un*>(&endpoint.addr)->sun_path[0] == '\0') {
          errors.add(key.origin, fmt::format("{} is an abstract socket: it has no file, so no "
                                             "mode or owner (anyone in the network namespace "
                                             "may connect); use a unix:///PATH to restrict it",
                                             quoteText(endpoint.url)));
        } else if (endpoint.kind != net::EndpointKind::kUnix &&
                   endpoint.kind != net::EndpointKind::kUnixgram) {
          errors.add(key.origin, fmt::format("only applies to unix:///PATH and unixgram:///PATH "
                                             "listeners (a socket file); {} is not one",
                                             quoteText(endpoint.url)));
        }
        break;
      case KeyScope::kQueue:
        if (endpoint.kind != net::EndpointKind::kMessageQueue) {
          errors.add(key.origin, fmt::format("only applies to message queues (mq:///name); {} "
                                             "is not one",
                                             quoteText(endpoint.url)));
        }
        break;
    }
  }
}

// The first backend with a parsed address, whose kind (stream or datagram) the pool has.
const BackendDraft* firstParsedBackend(const PoolDraft& pool) {
  for (const BackendDraft& backend : pool.backends) {
    if (backend.address_ok) return &backend;
  }
  return nullptr;
}

// Retries past the connect resend the client's bytes: only stream pools have them, and a
// refusal is recognised in the protocol the pool's health check speaks.
void checkRetryOn(const PoolDraft& pool, bool stream, ErrorList& errors) {
  const std::uint8_t past_connect = kRetryEmptyResponse | kRetryRefusedGreeting;
  if (!stream && (pool.config.retry_on & past_connect) != 0) {
    errors.add(*pool.retry_on,
               "\"empty-response\" and \"refused-greeting\" apply to stream pools: a datagram "
               "flow is never connected");
    return;
  }
  if ((pool.config.retry_on & kRetryRefusedGreeting) == 0) return;
  const bool speaks_protocol =
      pool.config.health && (pool.config.health->check == CheckKind::kMysql ||
                             pool.config.health->check == CheckKind::kPgsql ||
                             pool.config.health->check == CheckKind::kRedis);
  if (!speaks_protocol) {
    errors.add(*pool.retry_on,
               "\"refused-greeting\" reads the first answer in the pool's protocol: it needs "
               "health = { check = \"mysql\" }, \"pgsql\" or \"redis\"");
  }
}

// A pool carries either connections or datagrams, not both.
void checkPoolKinds(const PoolDraft& pool, ErrorList& errors) {
  const BackendDraft* first = firstParsedBackend(pool);
  for (const BackendDraft& backend : pool.backends) {
    if (backend.address_ok) checkScopedKeys(backend.scoped_keys, backend.config.address, errors);
  }
  if (first == nullptr) return;
  const bool stream = first->config.address.isStream();
  if (pool.discover && pool.config.discover && pool.config.discover->datagram == stream) {
    errors.add(
        *pool.discover,
        fmt::format("discovers {} backends but pool {} has {} ones ({}): set "
                    "protocol = \"{}\"",
                    stream ? "udp://" : "tcp://", quoteText(pool.config.name), styleName(stream),
                    quoteText(first->config.address.url), stream ? "tcp" : "udp"));
  }
  if (pool.health && pool.config.health) {
    const CheckKind check = pool.config.health->check;
    const bool datagram_check = check == CheckKind::kDns || check == CheckKind::kUdp;
    if (!stream && !datagram_check) {
      errors.add(*pool.health, fmt::format("check = {} needs a stream pool; a datagram pool's "
                                           "backends are checked with check = \"dns\" or "
                                           "\"udp\"",
                                           quoteText(checkKindName(check))));
    } else if (stream && datagram_check) {
      errors.add(*pool.health, fmt::format("check = {} applies to datagram pools (udp://, "
                                           "unixgram://)",
                                           quoteText(checkKindName(check))));
    } else if (!stream) {
      for (const BackendDraft& backend : pool.backends) {
        if (backend.address_ok && backend.config.address.kind == net::EndpointKind::kMessageQueue) {
          errors.add(backend.address,
                     "a message queue cannot answer a health check: mq:// "
                     "backends are one-way");
        }
      }
    }
  }
  if (pool.retry_on) checkRetryOn(pool, stream, errors);
  if (!stream && pool.send_proxy && pool.config.send_proxy == SendProxy::kV1) {
    errors.add(*pool.send_proxy,
               "v1 has no datagram form: datagram pools take send_proxy = \"v2\" (a v2 DGRAM "
               "header before every datagram)");
  }
  for (const BackendDraft& backend : pool.backends) {
    if (!backend.address_ok || backend.config.address.isStream() == stream) continue;
    errors.add(backend.address,
               fmt::format("pool {} mixes stream and datagram backends: {} is a {} address but "
                           "{} ({}) is a {} one",
                           quoteText(pool.config.name), quoteText(backend.config.address.url),
                           styleName(!stream), first->address.key,
                           quoteText(first->config.address.url), styleName(stream)));
  }
}

// A stream listener needs stream backends, a datagram listener datagram ones.
void checkListenerKind(const ListenerDraft& listener, const PoolDraft& pool, ErrorList& errors) {
  const BackendDraft* first = firstParsedBackend(pool);
  if (!listener.bind_ok || first == nullptr) return;
  const bool stream = listener.config.bind.isStream();
  if (first->config.address.isStream() == stream) return;
  errors.add(
      listener.pool,
      fmt::format("listener {} binds a {} address ({}) but pool {} has {} backends ({}); "
                  "a {} listener needs {} backends",
                  quoteText(listener.config.name), styleName(stream),
                  quoteText(listener.config.bind.url), quoteText(pool.config.name),
                  styleName(!stream), quoteText(first->config.address.url), styleName(stream),
                  stream ? "tcp:// or unix://" : "udp://, unixgram:// or mq://"));
}

void resolvePools(std::vector<ListenerDraft>& listeners, const std::vector<PoolDraft>& pools,
                  ErrorList& errors) {
  std::vector<std::string_view> names;
  for (const PoolDraft& pool : pools) names.push_back(pool.config.name);
  for (ListenerDraft& listener : listeners) {
    if (!listener.pool_set) continue;
    bool found = false;
    for (std::size_t i = 0; i < pools.size(); ++i) {
      if (pools[i].config.name == listener.config.pool) {
        listener.config.pool_index = static_cast<std::uint32_t>(i);
        found = true;
        checkListenerKind(listener, pools[i], errors);
        break;
      }
    }
    if (found) continue;
    std::string message = fmt::format("no pool named {}", quoteText(listener.config.pool));
    if (auto match = closestMatch(listener.config.pool, names)) {
      message += fmt::format(" (did you mean \"{}\"?)", *match);
    } else if (names.empty()) {
      message += " (no [pool.NAME] tables are defined)";
    } else {
      message += fmt::format(" (pools: {})", quotedList(names));
    }
    errors.add(listener.pool, std::move(message));
  }
}

// Each route's pool exists and carries the listener's kind of traffic.
void resolveRoutes(std::vector<ListenerDraft>& listeners, const std::vector<PoolDraft>& pools,
                   ErrorList& errors) {
  std::vector<std::string_view> names;
  for (const PoolDraft& pool : pools) names.push_back(pool.config.name);
  for (ListenerDraft& listener : listeners) {
    auto& routes = listener.config.routes;
    for (std::size_t r = 0; r < routes.size() && r < listener.route_pools.size(); ++r) {
      RouteConfig& route = routes[r];
      if (route.pool.empty()) continue;  // missing: already reported
      bool found = false;
      for (std::size_t i = 0; i < pools.size(); ++i) {
        if (pools[i].config.name != route.pool) continue;
        route.pool_index = static_cast<std::uint32_t>(i);
        found = true;
        const BackendDraft* first = firstParsedBackend(pools[i]);
        if (first != nullptr && !first->config.address.isStream()) {
          errors.add(listener.route_pools[r],
                     fmt::format("pool {} has datagram backends; a route picks a pool for a "
                                 "stream connection",
                                 quoteText(route.pool)));
        }
        break;
      }
      if (found) continue;
      std::string message = fmt::format("no pool named {}", quoteText(route.pool));
      if (auto match = closestMatch(route.pool, names)) {
        message += fmt::format(" (did you mean \"{}\"?)", *match);
      }
      errors.add(listener.route_pools[r], std::move(message));
    }
  }
}

// A backend's `role` overrides the pool check's: only checks that ask a role take one, and a
// mysql check asks only after a login.
void checkBackendRoles(const PoolDraft& pool, ErrorList& errors) {
  for (const BackendDraft& backend : pool.backends) {
    if (!backend.role || !backend.config.role) continue;
    const auto& health = pool.config.health;
    const bool asks_role =
        health && (health->check == CheckKind::kRedis || health->check == CheckKind::kMysql ||
                   health->check == CheckKind::kPgsql);
    if (!asks_role) {
      errors.add(*backend.role,
                 "a backend's role overrides the pool's health check role: it needs health = "
                 "{ check = \"redis\" }, \"mysql\" or \"pgsql\"");
    } else if (health->check == CheckKind::kMysql && health->user.empty() &&
               *backend.config.role != proto::Role::kAny) {
      errors.add(*backend.role,
                 "a role with check = \"mysql\" needs user = \"NAME\" in the "
                 "pool's health table (the role is read after a login)");
    }
  }
}

}  // namespace

void checkPool(const PoolDraft& pool, ErrorList& errors) {
  checkBackends(pool, errors);
  checkBalance(pool, errors);
  checkPoolKinds(pool, errors);
  checkBackendRoles(pool, errors);
  checkPoolSource(pool, errors);
}

Config finishDraft(ConfigDraft&& draft, ErrorList& errors) {
  if (draft.listeners.empty() && !draft.listeners_reported) {
    errors.add(draft.listeners_origin, "at least one [[listener]] is required");
  }
  for (const PoolDraft& pool : draft.pools) checkPool(pool, errors);
  for (const ListenerDraft& listener : draft.listeners) {
    if (listener.bind_ok) checkScopedKeys(listener.scoped_keys, listener.config.bind, errors);
  }
  checkListenerNames(draft.listeners, errors);
  checkBinds(draft.listeners, errors);
  resolvePools(draft.listeners, draft.pools, errors);
  resolveRoutes(draft.listeners, draft.pools, errors);
  checkClientSources(draft.listeners, draft.pools, errors);
  checkAnnounce(draft, errors);
  checkForward(draft, errors);

  Config config = std::move(draft.config);
  for (ListenerDraft& listener : draft.listeners) {
    listener.config.index = static_cast<std::uint32_t>(config.listeners.size());
    config.listeners.push_back(std::move(listener.config));
  }
  for (PoolDraft& pool : draft.pools) {
    for (BackendDraft& backend : pool.backends)
      pool.config.backends.push_back(std::move(backend.config));
    config.pools.push_back(std::move(pool.config));
  }
  checkSecretFiles(config, errors);
  return config;
}

}  // namespace l4lb::config
