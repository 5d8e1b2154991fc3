#pragma once

#include "stats/backend_counters.h"

namespace l4lb::balance {

// A backend's counters are declared in stats/ (one list, stats/ sits below balance/); a balancer
// keeps them, and proxy/ writes them under this name.
using stats::BackendCounters;

}  // namespace l4lb::balance
