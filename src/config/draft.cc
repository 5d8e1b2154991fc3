#include "config/draft.h"

#include <fmt/format.h>
#include <netinet/in.h>

#include <cstring>
#include <map>
#include <utility>

#include "config/suggest.h"

namespace l4lb::config {

std::variant<net::Endpoint, std::string> parseStreamEndpoint(const EndpointParser& parse,
                                                             std::string_view url) {
  auto parsed = parse(url);
  if (auto* error = std::get_if<net::EndpointError>(&parsed)) return std::move(error->message);
  auto& endpoint = std::get<net::Endpoint>(parsed);
  if (!endpoint.isStream()) {
    return fmt::format(
        "{}: datagram endpoints ({}) are not supported yet; use tcp://, unix:///path or "
        "unix://@name",
        quoteText(url), net::kindName(endpoint.kind));
  }
  return std::move(endpoint);
}

namespace {

bool isPrime(std::uint64_t n) {
  if (n < 2) return false;
  for (std::uint64_t d = 2; d * d <= n; ++d) {
    if (n % d == 0) return false;
  }
  return true;
}

std::uint64_t nextPrime(std::uint64_t n) {
  while (!isPrime(n)) ++n;
  return n;
}

bool isAnyPort(const net::Endpoint& endpoint) {
  if (endpoint.kind != net::EndpointKind::kTcp) return false;
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
  if (std::memcmp(&a.addr, &b.addr, a.addr_len) != 0) return false;
  return !isAnyPort(a);
}

void checkBackends(const PoolDraft& pool, ErrorList& errors) {
  if (pool.backends.empty()) {
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
  if (pool.table_size_set && !isPrime(size)) {
    // Maglev's permutation walk only visits every slot when the table size is prime.
    errors.add(pool.table_size,
               fmt::format("must be a prime number; {} is not (the next prime is {})", size,
                           nextPrime(size)));
    return;
  }
  if (size < pool.backends.size()) {
    if (pool.table_size_set) {
      errors.add(pool.table_size,
                 fmt::format("must be at least the number of backends ({}); the next prime "
                             "that large is {}",
                             pool.backends.size(), nextPrime(pool.backends.size())));
    } else {
      errors.add(pool.balance,
                 fmt::format("the default maglev_table_size ({}) is smaller than the number of "
                             "backends ({}); set maglev_table_size to a prime at least {}",
                             size, pool.backends.size(), nextPrime(pool.backends.size())));
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

}  // namespace

Config finishDraft(ConfigDraft&& draft, ErrorList& errors) {
  if (draft.listeners.empty() && !draft.listeners_reported) {
    errors.add(draft.listeners_origin, "at least one [[listener]] is required");
  }
  for (const PoolDraft& pool : draft.pools) {
    checkBackends(pool, errors);
    checkBalance(pool, errors);
  }
  checkListenerNames(draft.listeners, errors);
  checkBinds(draft.listeners, errors);
  resolvePools(draft.listeners, draft.pools, errors);

  Config config = std::move(draft.config);
  for (ListenerDraft& listener : draft.listeners)
    config.listeners.push_back(std::move(listener.config));
  for (PoolDraft& pool : draft.pools) {
    for (BackendDraft& backend : pool.backends)
      pool.config.backends.push_back(std::move(backend.config));
    config.pools.push_back(std::move(pool.config));
  }
  return config;
}

}  // namespace l4lb::config
