#pragma once

#include <optional>
#include <string_view>

#include "config/config.h"
#include "config/draft.h"
#include "config/table_reader.h"

namespace l4lb::config {

// Reads a pool's `agent` table (README.md, "Agent check"): port, interval, timeout, send.
[[nodiscard]] std::optional<AgentConfig> readAgent(TableReader& pool, std::string_view key);

// The agent of a backend at `address`: the same host, at `port`; none for an address without a
// host (unix://, unixgram://, mq://).
[[nodiscard]] std::optional<net::Endpoint> agentOnHost(const net::Endpoint& address,
                                                       std::uint16_t port);

// A backend's own `agent` key: a tcp:// URL. Set on the draft when valid.
void readBackendAgent(TableReader& backend, const EndpointParser& parse, BackendDraft& draft);

// Once a pool's backends and agent table are read: each backend's agent address, its own
// `agent` or its address's host at the pool's agent port. A backend with no host (unix://,
// unixgram://, mq://) and no `agent` of its own is an error, and so is a backend `agent` in a
// pool with no agent table.
void resolveAgents(PoolDraft& pool, ErrorList& errors);

}  // namespace l4lb::config
