#pragma once

#include <cstdint>

#include "base/result.h"
#include "bpf/lb_layout.h"

// Small typed wrappers over libbpf's map calls, shared by the program classes: each failure
// comes back as a base::Error naming the map and the operation.
namespace l4lb::bpf {

[[nodiscard]] base::Result<void> updateMap(int map_fd, const char* map_name, const void* key,
                                           const void* value);
[[nodiscard]] base::Result<void> deleteFromMap(int map_fd, const char* map_name, const void* key);

// A per-CPU array's entry summed over the possible CPUs.
[[nodiscard]] base::Result<std::uint64_t> sumPerCpuU64(int map_fd, const char* map_name,
                                                       std::uint32_t index);
[[nodiscard]] base::Result<l4lb_counters> sumPerCpuCounters(int map_fd, const char* map_name,
                                                            std::uint32_t index);

// Routes libbpf's warnings into l4lb's log (once per process; libbpf's printer is global).
void routeLibbpfLog();

}  // namespace l4lb::bpf
