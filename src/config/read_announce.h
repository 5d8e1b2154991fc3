#pragma once

#include "config/draft.h"
#include "config/table_reader.h"

namespace l4lb::config {

// A listener's `announce` and `announce_min_backends` (README.md, "Announcing VIPs").
void readListenerAnnounce(TableReader& reader, ListenerDraft& draft);

// Each listener with announce = true: a tcp:// or udp:// bind on one address (a wildcard bind
// has no VIP to announce), and [global] announce_interface set.
void checkAnnounce(const ConfigDraft& draft, ErrorList& errors);

}  // namespace l4lb::config
