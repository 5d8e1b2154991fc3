#pragma once

#include "proxy/end_reason.h"
#include "stats/counter.h"
#include "stats/stream_stats.h"

namespace l4lb::proxy {

// The stream counters are declared in stats/ (one list per family); these are them over the
// reasons a connection ends for.
using stats::Counter;
using ListenerCounters = stats::ListenerCounters<EndReason>;
using WorkerStats = stats::WorkerStats<EndReason>;

}  // namespace l4lb::proxy
