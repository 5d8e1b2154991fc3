#pragma once

#include "proxy/flow_log.h"
#include "stats/datagram_stats.h"

namespace l4lb::proxy {

// One worker's datagram counters, declared in stats/ (one list), over the reasons a flow ends
// for.
using DatagramStats = stats::DatagramStats<FlowEnd, flowEndName>;

}  // namespace l4lb::proxy
