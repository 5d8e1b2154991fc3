// The checks of a pool's `source` that span entries: which backends can be reached from it, and
// which listeners' clients can lend it their address.

#include <fmt/format.h>
#include <sys/socket.h>

#include <string_view>

#include "config/draft.h"
#include "config/suggest.h"

namespace l4lb::config {

namespace {

std::string_view familyName(int family) { return family == AF_INET6 ? "IPv6" : "IPv4"; }

bool hasIpAddress(const net::Endpoint& endpoint) {
  return endpoint.kind == net::EndpointKind::kTcp || endpoint.kind == net::EndpointKind::kUdp;
}

// Listener `listener`'s clients lend their address to `pool`'s connections: they must have one,
// of the family of every backend (`origin`: the pool key or route that joins the two).
void checkClientSource(const ListenerDraft& listener, const PoolDraft& pool, const Origin& origin,
                       ErrorList& errors) {
  const net::Endpoint& bind = listener.config.bind;
  if (!hasIpAddress(bind)) {
    errors.add(origin, fmt::format("pool {} has source = \"client\", but listener {} ({}) has "
                                   "clients without an IP address to lend it",
                                   quoteText(pool.config.name), quoteText(listener.config.name),
                                   quoteText(bind.url)));
    return;
  }
  for (const BackendDraft& backend : pool.backends) {
    if (!backend.address_ok || !hasIpAddress(backend.config.address)) continue;
    if (backend.config.address.family() == bind.family()) continue;
    errors.add(origin, fmt::format("pool {} has source = \"client\", but listener {} takes {} "
                                   "clients ({}) and backend {} is {} ({}): a client's address "
                                   "is the source of connections of its own family only",
                                   quoteText(pool.config.name), quoteText(listener.config.name),
                                   familyName(bind.family()), quoteText(bind.url),
                                   quoteText(backend.config.name),
                                   familyName(backend.config.address.family()),
                                   quoteText(backend.config.address.url)));
    return;
  }
}

const PoolDraft* findPool(const std::vector<PoolDraft>& pools, std::string_view name) {
  for (const PoolDraft& pool : pools) {
    if (pool.config.name == name) return &pool;
  }
  return nullptr;
}

}  // namespace

void checkPoolSource(const PoolDraft& pool, ErrorList& errors) {
  if (!pool.source || pool.config.source.kind == SourceKind::kAuto) return;
  const SourceConfig& source = pool.config.source;
  for (const BackendDraft& backend : pool.backends) {
    if (!backend.address_ok) continue;
    const net::Endpoint& address = backend.config.address;
    if (!hasIpAddress(address)) {
      errors.add(*pool.source, fmt::format("source applies to tcp:// and udp:// backends; "
                                           "backend {} ({}) has no IP source address",
                                           quoteText(backend.config.name), quoteText(address.url)));
      return;
    }
    if (source.kind == SourceKind::kAddress && address.family() != source.address.addr.ss_family) {
      errors.add(*pool.source,
                 fmt::format("source {} is an {} address, but backend {} is {} ({})",
                             quoteText(source.text), familyName(source.address.addr.ss_family),
                             quoteText(backend.config.name), familyName(address.family()),
                             quoteText(address.url)));
      return;
    }
  }
}

void checkClientSources(const std::vector<ListenerDraft>& listeners,
                        const std::vector<PoolDraft>& pools, ErrorList& errors) {
  for (const ListenerDraft& listener : listeners) {
    if (!listener.bind_ok) continue;
    const PoolDraft* pool = listener.pool_set ? findPool(pools, listener.config.pool) : nullptr;
    if (pool != nullptr && pool->config.source.kind == SourceKind::kClient) {
      checkClientSource(listener, *pool, listener.pool, errors);
    }
    const auto& routes = listener.config.routes;
    for (std::size_t r = 0; r < routes.size() && r < listener.route_pools.size(); ++r) {
      const PoolDraft* routed = findPool(pools, routes[r].pool);
      if (routed != nullptr && routed->config.source.kind == SourceKind::kClient) {
        checkClientSource(listener, *routed, listener.route_pools[r], errors);
      }
    }
  }
}

}  // namespace l4lb::config
