#include "config/read_announce.h"

#include <fmt/format.h>
#include <netinet/in.h>

#include <cstring>

#include "config/limits.h"

namespace l4lb::config {

namespace {

bool isWildcard(const net::Endpoint& endpoint) {
  if (endpoint.family() == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(&endpoint.addr)->sin_addr.s_addr == INADDR_ANY;
  }
  if (endpoint.family() == AF_INET6) {
    const auto& address = reinterpret_cast<const sockaddr_in6*>(&endpoint.addr)->sin6_addr;
    return std::memcmp(&address, &in6addr_any, sizeof(address)) == 0;
  }
  return false;
}

}  // namespace

void readListenerAnnounce(TableReader& reader, ListenerDraft& draft) {
  if (auto announce = reader.boolean("announce")) {
    draft.config.announce = *announce;
    if (*announce) draft.announce = reader.originOf("announce");
  }
  if (auto min = reader.integer("announce_min_backends", 1, kMaxAnnounceMinBackends)) {
    draft.config.announce_min_backends = static_cast<std::uint32_t>(*min);
  }
}

void checkAnnounce(const ConfigDraft& draft, ErrorList& errors) {
  for (const ListenerDraft& listener : draft.listeners) {
    // A packet-path listener reports announce as a key of the proxy path (read_forward.h).
    if (!listener.announce || !listener.bind_ok || listener.config.packetPath()) continue;
    const net::Endpoint& bind = listener.config.bind;
    if (bind.kind != net::EndpointKind::kTcp && bind.kind != net::EndpointKind::kUdp) {
      errors.add(*listener.announce,
                 fmt::format("only tcp:// and udp:// listeners can be announced: \"{}\" has no "
                             "IP address to route to",
                             bind.url));
    } else if (isWildcard(bind)) {
      errors.add(*listener.announce,
                 fmt::format("\"{}\" is a wildcard address: a listener that is announced binds "
                             "the one address (the VIP) routers send its clients to",
                             bind.url));
    } else if (draft.config.global.announce_interface.empty()) {
      errors.add(*listener.announce,
                 "needs [global] announce_interface = \"NAME\": the interface l4lb puts the VIPs "
                 "it announces on");
    }
  }
}

}  // namespace l4lb::config
