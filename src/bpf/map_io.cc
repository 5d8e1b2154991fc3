#include "bpf/map_io.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <algorithm>
#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <string>
#include <vector>

#include "base/log.h"

namespace l4lb::bpf {
namespace {

base::Error mapError(const char* op, const char* map_name) {
  base::Error error = base::lastError(op);
  error.context = std::string("BPF map ") + map_name;
  return error;
}

// Per-CPU values come back one per possible CPU, each rounded up to 8 bytes.
template <typename T>
base::Result<std::vector<T>> readPerCpu(int map_fd, const char* map_name, std::uint32_t index) {
  static_assert(sizeof(T) % 8 == 0, "per-CPU values are laid out in 8-byte steps");
  const int cpus = libbpf_num_possible_cpus();
  if (cpus <= 0) return base::sysError(-cpus, "libbpf_num_possible_cpus");
  std::vector<T> values(static_cast<std::size_t>(cpus));
  if (bpf_map_lookup_elem(map_fd, &index, values.data()) != 0) {
    return mapError("bpf_map_lookup_elem", map_name);
  }
  return values;
}

int printLibbpf(libbpf_print_level level, const char* format, va_list args) {
  if (level == LIBBPF_DEBUG) return 0;
  char line[512];
  const int length = std::vsnprintf(line, sizeof(line), format, args);
  std::string_view text(line, length < 0 ? 0 : std::min<std::size_t>(length, sizeof(line) - 1));
  while (!text.empty() && text.back() == '\n') text.remove_suffix(1);
  if (level == LIBBPF_WARN) {
    base::logWarn("libbpf: {}", text);
  } else {
    base::logDebug("libbpf: {}", text);
  }
  return length;
}

}  // namespace

base::Result<void> updateMap(int map_fd, const char* map_name, const void* key, const void* value) {
  if (bpf_map_update_elem(map_fd, key, value, BPF_ANY) != 0) {
    return mapError("bpf_map_update_elem", map_name);
  }
  return {};
}

base::Result<void> deleteFromMap(int map_fd, const char* map_name, const void* key) {
  if (bpf_map_delete_elem(map_fd, key) != 0) return mapError("bpf_map_delete_elem", map_name);
  return {};
}

base::Result<std::uint64_t> sumPerCpuU64(int map_fd, const char* map_name, std::uint32_t index) {
  auto values = readPerCpu<std::uint64_t>(map_fd, map_name, index);
  if (!values) return values.error();
  std::uint64_t sum = 0;
  for (const std::uint64_t value : *values) sum += value;
  return sum;
}

base::Result<l4lb_counters> sumPerCpuCounters(int map_fd, const char* map_name,
                                              std::uint32_t index) {
  auto values = readPerCpu<l4lb_counters>(map_fd, map_name, index);
  if (!values) return values.error();
  l4lb_counters sum{};
  for (const l4lb_counters& value : *values) {
    sum.packets += value.packets;
    sum.bytes += value.bytes;
    sum.new_flows += value.new_flows;
    sum.conn_misses += value.conn_misses;
  }
  return sum;
}

void routeLibbpfLog() {
  static std::once_flag once;
  std::call_once(once, [] { libbpf_set_print(printLibbpf); });
}

}  // namespace l4lb::bpf
