#include "config/read_agent.h"

#include <netinet/in.h>

#include <array>

#include "config/limits.h"
#include "config/suggest.h"
#include "proto/check_reply.h"

namespace l4lb::config {

namespace {

using namespace std::string_view_literals;

constexpr std::array kAgentKeys = {"port"sv, "interval"sv, "timeout"sv, "send"sv};

}  // namespace

std::optional<net::Endpoint> agentOnHost(const net::Endpoint& address, std::uint16_t port) {
  if (address.family() != AF_INET && address.family() != AF_INET6) return std::nullopt;
  net::Endpoint agent = address;
  agent.kind = net::EndpointKind::kTcp;
  if (agent.family() == AF_INET) {
    reinterpret_cast<sockaddr_in*>(&agent.addr)->sin_port = htons(port);
  } else {
    reinterpret_cast<sockaddr_in6*>(&agent.addr)->sin6_port = htons(port);
  }
  agent.url = "tcp://" + net::formatSockaddr(agent.sockaddrPtr(), agent.addr_len);
  return agent;
}

std::optional<AgentConfig> readAgent(TableReader& pool, std::string_view key) {
  const toml::table* table = pool.table(key, "a table like { port = 9777, interval = \"2s\" }");
  if (table == nullptr) return std::nullopt;
  TableReader reader(*table, childKey(pool.path(), key), kAgentKeys, pool.errors());
  AgentConfig agent;
  if (auto port = reader.integer("port", 1, 65535)) {
    agent.port = static_cast<std::uint16_t>(*port);
  }
  if (auto interval = reader.duration("interval", base::Duration(10), kMaxDuration)) {
    agent.interval = *interval;
  }
  if (auto timeout = reader.duration("timeout", base::Duration(1), kMaxDuration)) {
    agent.timeout = *timeout;
  }
  if (auto send = reader.name("send")) {
    auto value = proto::unescapeCheckString(*send);
    if (value) {
      agent.send = std::move(value).value();
    } else {
      reader.errors().add(reader.originOf("send"), value.error().message());
    }
  }
  reader.reportUnknownKeys();
  return agent;
}

void readBackendAgent(TableReader& backend, const EndpointParser& parse, BackendDraft& draft) {
  if (!backend.has("agent")) return;
  draft.agent = backend.originOf("agent");
  auto url = backend.name("agent");
  if (!url) return;
  auto parsed = parse(*url);
  if (!parsed) {
    backend.errors().add(*draft.agent, parsed.error().message());
    return;
  }
  if (parsed.value().kind != net::EndpointKind::kTcp) {
    backend.errors().add(*draft.agent,
                         fmt::format("an agent is asked over TCP: expected \"tcp://HOST:PORT\", "
                                     "got {}",
                                     quoteText(*url)));
    return;
  }
  draft.config.agent = std::move(parsed).value();
}

void resolveAgents(PoolDraft& pool, ErrorList& errors) {
  for (BackendDraft& backend : pool.backends) {
    if (!pool.config.agent) {
      if (backend.agent) {
        errors.add(*backend.agent,
                   "needs the pool's agent table (agent = { port = ..., interval = ... })");
      }
      backend.config.agent.reset();
      continue;
    }
    if (backend.config.agent || backend.agent || !backend.address_ok) continue;
    const std::uint16_t port = pool.config.agent->port;
    if (port != 0) backend.config.agent = agentOnHost(backend.config.address, port);
    if (!backend.config.agent) {
      errors.add(backend.address,
                 port == 0 ? std::string("the pool's agent table has no port: this backend "
                                         "needs agent = \"tcp://HOST:PORT\"")
                           : fmt::format("{} has no host for the agent at port {}: give this "
                                         "backend agent = \"tcp://HOST:PORT\"",
                                         quoteText(backend.config.address.url), port));
    }
  }
}

}  // namespace l4lb::config
