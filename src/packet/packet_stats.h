#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "bpf/lb_layout.h"

namespace l4lb::packet {

// What the XDP programs counted, read (summed over CPUs) for GET /metrics, the admin API and
// `l4lb ctl packet`. Names as the config has them.
struct VipNumbers {
  std::string listener;
  std::string vip;  // the bind URL
  std::string forward;
  std::string interface;
  std::string pool;
  bool has_table = false;  // false: no backend may take new flows (they are dropped)
  std::uint32_t table_size = 0;
  l4lb_counters counters{};
};

struct BackendNumbers {
  std::string interface;
  std::string pool;
  std::string backend;
  std::string address;
  std::uint32_t index = 0;  // in the program's backends map
  bool down = false;        // flagged DOWN: its flows re-pick
  bool in_table = false;    // takes new flows
  l4lb_counters counters{};
};

// One interface's program's global counters, in enum l4lb_global_counter order.
struct InterfaceNumbers {
  std::string interface;
  std::uint32_t program_id = 0;
  std::vector<std::uint64_t> global;
};

struct PacketNumbers {
  std::vector<VipNumbers> vips;
  std::vector<BackendNumbers> backends;
  std::vector<InterfaceNumbers> interfaces;
};

// The names of enum l4lb_global_counter, for metrics and JSON ("fragments", "fib_no_neigh", ...).
[[nodiscard]] const char* globalCounterName(std::uint32_t counter);

}  // namespace l4lb::packet
