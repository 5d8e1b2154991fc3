#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <utility>
#include <vector>

#include "base/result.h"
#include "bpf/lb_layout.h"

struct xdp_lb;  // the bpftool skeleton (BUILD/bpf/xdp_lb.skel.h), known only to lb_program.cc

namespace l4lb::balance {
class MaglevTable;
}

namespace l4lb::bpf {

struct LbLoadOptions {
  std::uint32_t conn_entries = L4LB_DEFAULT_CONN_ENTRIES;  // the connection table's size
  // Maps of an earlier load to use instead of new ones (-1: new), so that a binary upgrade's
  // program carries on with the flows and backend indexes of the one it replaces. Their type,
  // sizes and flags must be this program's (lb_layout.h: a changed layout takes a new name), or
  // the load fails.
  int conns_fd = -1;
  int backends_fd = -1;
};

// The XDP load balancer (xdp_lb.bpf.c) loaded into the kernel, and its maps: what the control
// plane writes (VIPs, backends, Maglev tables, the config) and reads (counters). Loading does
// not attach it (bpf/xdp_link.h does). Owns the program and its maps: destroying this unloads
// them, unless an attachment or a pin still holds them. Map layouts and their meaning:
// lb_layout.h. Not thread-safe; the kernel side may run on every CPU meanwhile.
class LbProgram {
 public:
  [[nodiscard]] static base::Result<LbProgram> load(const LbLoadOptions& options = {});

  LbProgram(LbProgram&&) noexcept;
  LbProgram& operator=(LbProgram&&) noexcept;
  ~LbProgram();

  [[nodiscard]] int programFd() const;
  // The maps, for pinning or reading in place (owned by this object).
  [[nodiscard]] int vipsFd() const;
  [[nodiscard]] int tablesFd() const;
  [[nodiscard]] int backendsFd() const;
  [[nodiscard]] int connsFd() const;
  [[nodiscard]] int configFd() const;

  [[nodiscard]] base::Result<void> setConfig(const l4lb_config& config);
  [[nodiscard]] base::Result<void> setVip(const l4lb_vip_key& key, const l4lb_vip& vip);
  [[nodiscard]] base::Result<void> removeVip(const l4lb_vip_key& key);
  // `index` in 1..L4LB_MAX_BACKENDS-1. A zeroed value (family 0) marks the index unused.
  [[nodiscard]] base::Result<void> setBackend(std::uint32_t index, const l4lb_backend& backend);

  // Makes a new table for `vip_id` whose slot s names backend index slots[s] (its size M is
  // slots.size(), at most L4LB_MAX_TABLE_SIZE), fills it, then swaps it in with one update of
  // the outer map, so a packet sees the old table or the new one, never a mix. A pool with no
  // backend has no table (balance::MaglevTable is empty): removeTable.
  [[nodiscard]] base::Result<void> setTable(std::uint32_t vip_id,
                                            std::span<const std::uint32_t> slots);
  // The VIP's table is gone: its new flows are dropped (L4LB_NO_BACKEND).
  [[nodiscard]] base::Result<void> removeTable(std::uint32_t vip_id);

  // Summed over CPUs.
  [[nodiscard]] base::Result<l4lb_counters> vipCounters(std::uint32_t vip_id) const;
  [[nodiscard]] base::Result<l4lb_counters> backendCounters(std::uint32_t index) const;
  [[nodiscard]] base::Result<std::uint64_t> globalCounter(l4lb_global_counter counter) const;

  // The connection entry of a flow, if any.
  [[nodiscard]] base::Result<std::optional<l4lb_conn>> connection(const l4lb_flow& flow) const;

 private:
  struct SkeletonDeleter {
    void operator()(xdp_lb* skeleton) const;
  };
  explicit LbProgram(std::unique_ptr<xdp_lb, SkeletonDeleter> skeleton);

  std::unique_ptr<xdp_lb, SkeletonDeleter> skeleton_;
};

// The used entries (family set) of a "backends" map, by index: what an earlier program's
// indexes stand for, so that a new one names the same backends with them.
[[nodiscard]] base::Result<std::vector<std::pair<std::uint32_t, l4lb_backend>>> usedBackends(
    int backends_fd);

// A Maglev table in the program's terms: slot s holds index_of[table.entries()[s]], the backend
// index the control plane gave that config backend (0 leaves the slot empty). For setTable.
[[nodiscard]] std::vector<std::uint32_t> tableSlots(const balance::MaglevTable& table,
                                                    std::span<const std::uint32_t> index_of);

// The slot of a table of `table_size` slots the program picks for `flow` on a VIP with
// `vip_flags` (L4LB_VIP_HASH_PORT or not): balance/packet_hash.h, as xdp_lb.bpf.c computes it.
[[nodiscard]] std::uint32_t slotOf(const l4lb_flow& flow, std::uint32_t vip_flags,
                                   std::uint32_t table_size);

}  // namespace l4lb::bpf
