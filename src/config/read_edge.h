#pragma once

#include "config/draft.h"
#include "config/table_reader.h"

namespace l4lb::config {

// A listener's edge keys: proxy_protocol, proxy_trusted, proxy_timeout, routes,
// inspect_timeout and tls_required. Route pools are resolved later, with the other pools.
void readListenerEdge(TableReader& reader, ListenerDraft& draft);

}  // namespace l4lb::config
