#pragma once

#include "config/draft.h"
#include "config/table_reader.h"

namespace l4lb::config {

// A listener's `forward` and `interface` (docs/packet-path.md), and where each key of the proxy
// path was written on it (a packet-path listener has no use for them: read_forward.cc).
void readListenerForward(TableReader& reader, ListenerDraft& draft);

// Every combination the packet path cannot serve, each at its own key: a bind that is not one
// IP address and port (the VIP), no interface, the proxy path's keys (PROXY protocol, routes,
// limits, ...), a pool that is not maglev or sends PROXY headers or binds a source, backends that
// are not IP literals of the VIP's protocol and port (no port change on the packet path), and,
// for dsr, of another family than the VIP.
void checkForward(const ConfigDraft& draft, ErrorList& errors);

}  // namespace l4lb::config
