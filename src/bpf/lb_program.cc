#include "bpf/lb_program.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <netinet/in.h>

#include <array>
#include <cstring>
#include <numeric>
#include <string>
#include <utility>

#include "balance/balancer.h"
#include "balance/maglev_table.h"
#include "balance/packet_hash.h"
#include "base/fd.h"
#include "bpf/map_io.h"
#include "xdp_lb.skel.h"

namespace l4lb::bpf {

void LbProgram::SkeletonDeleter::operator()(xdp_lb* skeleton) const { xdp_lb__destroy(skeleton); }

LbProgram::LbProgram(std::unique_ptr<xdp_lb, SkeletonDeleter> skeleton)
    : skeleton_(std::move(skeleton)) {}
LbProgram::LbProgram(LbProgram&&) noexcept = default;
LbProgram& LbProgram::operator=(LbProgram&&) noexcept = default;
LbProgram::~LbProgram() = default;

base::Result<LbProgram> LbProgram::load(const LbLoadOptions& options) {
  routeLibbpfLog();
  std::unique_ptr<xdp_lb, SkeletonDeleter> skeleton(xdp_lb__open());
  if (!skeleton) return base::lastError("open the XDP load balancer (xdp_lb)");
  if (bpf_map__set_max_entries(skeleton->maps.conns, options.conn_entries) != 0) {
    return base::lastError("size the connection table");
  }
  if (options.conns_fd >= 0 && bpf_map__reuse_fd(skeleton->maps.conns, options.conns_fd) != 0) {
    return base::lastError("reuse the pinned connection table");
  }
  if (options.backends_fd >= 0 &&
      bpf_map__reuse_fd(skeleton->maps.backends, options.backends_fd) != 0) {
    return base::lastError("reuse the pinned backends map");
  }
  if (xdp_lb__load(skeleton.get()) != 0) {
    return base::lastError("load the XDP load balancer (xdp_lb)");
  }
  return LbProgram(std::move(skeleton));
}

int LbProgram::programFd() const { return bpf_program__fd(skeleton_->progs.xdp_lb); }
int LbProgram::vipsFd() const { return bpf_map__fd(skeleton_->maps.vips); }
int LbProgram::tablesFd() const { return bpf_map__fd(skeleton_->maps.maglev_tables); }
int LbProgram::backendsFd() const { return bpf_map__fd(skeleton_->maps.backends); }
int LbProgram::connsFd() const { return bpf_map__fd(skeleton_->maps.conns); }
int LbProgram::configFd() const { return bpf_map__fd(skeleton_->maps.lb_config); }

base::Result<void> LbProgram::setConfig(const l4lb_config& config) {
  const std::uint32_t key = 0;
  return updateMap(configFd(), "lb_config", &key, &config);
}

base::Result<void> LbProgram::setVip(const l4lb_vip_key& key, const l4lb_vip& vip) {
  if (vip.id >= L4LB_MAX_VIPS) {
    return base::failure("VIP id " + std::to_string(vip.id) + " is out of range");
  }
  return updateMap(vipsFd(), "vips", &key, &vip);
}

base::Result<void> LbProgram::removeVip(const l4lb_vip_key& key) {
  return deleteFromMap(vipsFd(), "vips", &key);
}

base::Result<void> LbProgram::setBackend(std::uint32_t index, const l4lb_backend& backend) {
  if (index == 0 || index >= L4LB_MAX_BACKENDS) {
    return base::failure("backend index " + std::to_string(index) + " is out of range");
  }
  return updateMap(backendsFd(), "backends", &index, &backend);
}

base::Result<void> LbProgram::setTable(std::uint32_t vip_id, std::span<const std::uint32_t> slots) {
  if (vip_id >= L4LB_MAX_VIPS) {
    return base::failure("VIP id " + std::to_string(vip_id) + " is out of range");
  }
  if (slots.size() < 2 || slots.size() > L4LB_MAX_TABLE_SIZE) {
    return base::failure("a Maglev table of " + std::to_string(slots.size()) + " slots");
  }
  // Entry 0 is the size, entry 1 + s slot s (lb_layout.h, "maglev_tables").
  const auto entries = static_cast<std::uint32_t>(slots.size() + 1);
  std::vector<std::uint32_t> keys(entries);
  std::iota(keys.begin(), keys.end(), 0U);
  std::vector<std::uint32_t> values;
  values.reserve(entries);
  values.push_back(static_cast<std::uint32_t>(slots.size()));
  values.insert(values.end(), slots.begin(), slots.end());

  bpf_map_create_opts create{};
  create.sz = sizeof(create);
  create.map_flags = BPF_F_INNER_MAP;
  base::Fd table(bpf_map_create(BPF_MAP_TYPE_ARRAY, "maglev_table", sizeof(std::uint32_t),
                                sizeof(std::uint32_t), entries, &create));
  if (!table) return base::lastError("bpf_map_create (a Maglev table)");
  bpf_map_batch_opts batch{};
  batch.sz = sizeof(batch);
  std::uint32_t count = entries;
  if (bpf_map_update_batch(table.get(), keys.data(), values.data(), &count, &batch) != 0) {
    return base::lastError("bpf_map_update_batch (a Maglev table)");
  }
  // The swap. The outer map keeps its own reference to the table; ours closes on return.
  const std::uint32_t table_fd = static_cast<std::uint32_t>(table.get());
  return updateMap(tablesFd(), "maglev_tables", &vip_id, &table_fd);
}

base::Result<void> LbProgram::removeTable(std::uint32_t vip_id) {
  return deleteFromMap(tablesFd(), "maglev_tables", &vip_id);
}

base::Result<l4lb_counters> LbProgram::vipCounters(std::uint32_t vip_id) const {
  return sumPerCpuCounters(bpf_map__fd(skeleton_->maps.vip_stats), "vip_stats", vip_id);
}

base::Result<l4lb_counters> LbProgram::backendCounters(std::uint32_t index) const {
  return sumPerCpuCounters(bpf_map__fd(skeleton_->maps.backend_stats), "backend_stats", index);
}

base::Result<std::uint64_t> LbProgram::globalCounter(l4lb_global_counter counter) const {
  return sumPerCpuU64(bpf_map__fd(skeleton_->maps.global_stats), "global_stats", counter);
}

base::Result<std::optional<l4lb_conn>> LbProgram::connection(const l4lb_flow& flow) const {
  l4lb_conn conn{};
  if (bpf_map_lookup_elem(connsFd(), &flow, &conn) == 0) return std::optional<l4lb_conn>(conn);
  if (errno == ENOENT) return std::optional<l4lb_conn>();
  return base::lastError("bpf_map_lookup_elem (conns)");
}

std::vector<std::uint32_t> tableSlots(const balance::MaglevTable& table,
                                      std::span<const std::uint32_t> index_of) {
  std::vector<std::uint32_t> slots;
  slots.reserve(table.size());
  for (const std::uint32_t backend : table.entries()) {
    slots.push_back(backend < index_of.size() ? index_of[backend] : 0);
  }
  return slots;
}

std::uint32_t slotOf(const l4lb_flow& flow, std::uint32_t vip_flags, std::uint32_t table_size) {
  if (table_size == 0) return 0;
  // The address words as bytes in network (memory) order, as the program reads them.
  std::array<std::uint8_t, sizeof(flow.src)> address{};
  std::memcpy(address.data(), flow.src, address.size());
  const std::uint32_t length = flow.family == L4LB_AF_INET ? 4 : 16;
  const std::uint64_t hash = l4lb_client_hash(address.data(), length, ntohs(flow.sport),
                                              (vip_flags & L4LB_VIP_HASH_PORT) != 0);
  return static_cast<std::uint32_t>(hash % table_size);
}

}  // namespace l4lb::bpf

namespace l4lb::bpf {

base::Result<std::vector<std::pair<std::uint32_t, l4lb_backend>>> usedBackends(int backends_fd) {
  std::vector<std::pair<std::uint32_t, l4lb_backend>> used;
  for (std::uint32_t index = 1; index < L4LB_MAX_BACKENDS; ++index) {
    l4lb_backend value{};
    if (bpf_map_lookup_elem(backends_fd, &index, &value) != 0) {
      return base::lastError("bpf_map_lookup_elem (backends)");
    }
    if (value.family != 0) used.emplace_back(index, value);
  }
  return used;
}

}  // namespace l4lb::bpf
