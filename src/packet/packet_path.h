#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "base/fd.h"
#include "base/result.h"
#include "bpf/lb_program.h"
#include "config/config.h"
#include "control/admin_state.h"
#include "control/health_snapshot.h"
#include "packet/interface_program.h"
#include "packet/packet_stats.h"

namespace l4lb::packet {

// What decides which backends take new flows, read at each update: the checks' latest snapshot
// (null: none run, every backend up) and the operator's states and weights (unset: enabled, the
// config's weights).
struct PacketSources {
  std::shared_ptr<const control::HealthSnapshot> health;
  std::function<control::AdminState(std::uint32_t pool, std::uint32_t backend)> state;
  std::function<std::uint32_t(std::uint32_t pool, std::uint32_t backend)> weight;
};

// The packet path of the running config (docs/packet-path.md): per interface named by a
// forward = "dsr" | "ipip" listener, one XDP load balancer (bpf::LbProgram) attached through a
// bpf_link; per such listener its VIP, its pool's backends (stable indexes >= 1) and the VIP's
// Maglev table (packet_table.h). Owned by the main thread (app/), never by a worker: workers
// know nothing of these listeners. Thread-safe: the admin thread reads numbers() while the main
// thread updates. Lock order: this object's lock, then whatever PacketSources' functions take
// (the admin controller's): never call numbers() with the controller's lock held.
//
// Health and the operator reach the maps through update(): a backend the checks say down is
// flagged DOWN (its flows re-pick) and leaves the tables; a drained or disabled one leaves the
// tables only (its flows go on); weights rebuild the tables. A table is replaced whole (a new
// inner map swapped in), and only when what it is built from changed.
//
// Destroying it detaches every program and removes its pins, unless a binary upgrade's new
// process took them over (packet/interface_program.h).
class PacketPath {
 public:
  PacketPath() = default;
  PacketPath(const PacketPath&) = delete;
  PacketPath& operator=(const PacketPath&) = delete;
  ~PacketPath();

  // Before a config serves (at start, or in a reload before anything changes): every interface
  // it names exists, has the forwarding its backends' families need (bpf_fib_lookup answers
  // "forwarding disabled" otherwise), and has the program loaded and attached (those already
  // attached stay). Fails naming the listener, the interface and the errno.
  [[nodiscard]] base::Result<void> prepare(const config::Config& config);

  // Serves `config` (which prepare() accepted): writes its VIPs, backends and tables, removes
  // what it no longer has, detaches interfaces no listener names any more. Map updates that
  // fail are logged and retried at the next update.
  void configure(const config::Config& config, const PacketSources& sources);

  // Rewrites what changed since the last call (each tick, and when health or an operator
  // changed something).
  void update(const PacketSources& sources);

  // The start went through (nothing fails after it): an upgrade's new process that ends from
  // now on detaches as any stop does, instead of giving the interfaces back (interface_program.h).
  void commit();

  [[nodiscard]] bool empty() const;
  [[nodiscard]] PacketNumbers numbers() const;

 private:
  // A backend of some packet-path pool on one interface. Its index stays while l4lb runs, even
  // after a reload removed it: connection entries may still name it, and its flows go on
  // (flagged DRAIN, out of every table), as a removed backend's connections do on the proxy path.
  struct Backend {
    std::uint32_t index = 0;
    std::string pool;
    std::string name;
    std::string address;
    l4lb_backend value{};
    bool written = false;  // `value` is in the map
    bool in_config = false;
    bool in_table = false;
  };
  struct Interface {
    explicit Interface(std::unique_ptr<InterfaceProgram> opened) : xdp(std::move(opened)) {}
    [[nodiscard]] bpf::LbProgram& program() { return xdp->program(); }
    [[nodiscard]] const bpf::LbProgram& program() const { return xdp->program(); }

    std::string name;
    int ifindex = 0;
    std::unique_ptr<InterfaceProgram> xdp;
    std::map<std::string, Backend> backends;  // by backend key (pool, name, address)
    // Taken over (packet/interface_program.h): the indexes the earlier program's backends had,
    // not yet given to a backend of the config. A config backend of the same address takes its
    // index, so the connection entries that name it go on naming it.
    std::map<std::uint32_t, l4lb_backend> inherited;
    std::uint32_t next_index = 1;
    std::vector<std::uint32_t> free_vip_ids;
    std::uint32_t next_vip_id = 0;
  };
  // One packet-path listener as served.
  struct Vip {
    std::uint32_t listener = 0;  // in config_
    std::string key;             // name and bind: its id is kept while both are
    Interface* interface = nullptr;
    std::uint32_t id = 0;
    l4lb_vip_key map_key{};
    std::vector<std::uint32_t> indexes;  // [config backend] -> backend index
    // What the table was last built from ([backend]: weight taking slots, 0 none); empty: none.
    std::vector<std::uint32_t> built_from;
    bool written = false;  // the table (or its absence) is in the map
    std::uint32_t table_size = 0;
  };

  void updateLocked(const PacketSources& sources);
  void writeTable(Vip& vip, const PacketSources& sources);
  [[nodiscard]] base::Result<void> attach(const std::string& name, int ifindex);
  [[nodiscard]] static std::uint32_t claimIndex(Interface& interface, const l4lb_backend& value);

  mutable std::mutex mutex_;
  std::map<std::string, std::unique_ptr<Interface>> interfaces_;  // by name
  std::unique_ptr<config::Config> config_;                        // the served copy
  std::vector<Vip> vips_;
  bool committed_ = false;
};

}  // namespace l4lb::packet
