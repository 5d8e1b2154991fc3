#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "base/fd.h"
#include "base/result.h"
#include "bpf/lb_program.h"

namespace l4lb::packet {

// The XDP load balancer of one interface, attached through a bpf_link, with its long-lived state
// pinned on bpffs (bpf/pinning.h) under /sys/fs/bpf/l4lb/IF/: `link` (the attachment), `conns`
// (the connection table) and `backends` (what each backend index stands for).
//
// The pins are what a binary upgrade takes over: a process that finds them for its interface
// loads its program on the pinned connection table and backends map (same flows, same indexes)
// and, once the caller filled the new program's other maps, swaps it in behind the pinned link
// (bpf_link_update: each packet sees the old program or the new one). The old process then sees
// another program behind the link (replaced()) and leaves everything as it is when it ends.
// Found after a crash, the same pins are taken over the same way.
//
// Ending (the destructor): a process whose program still runs behind the link detaches it and
// removes the pins, unless it took the link over and was never committed (a new process that
// failed to start): then it swaps the previous program back in and leaves the pins to it.
class InterfaceProgram {
 public:
  // Loads the program for interface `name` (`ifindex`), taking over the pins found there, or
  // attaching anew in native mode and pinning. Mounts bpffs on /sys/fs/bpf if none is.
  [[nodiscard]] static base::Result<std::unique_ptr<InterfaceProgram>> open(const std::string& name,
                                                                            int ifindex);

  InterfaceProgram(const InterfaceProgram&) = delete;
  InterfaceProgram& operator=(const InterfaceProgram&) = delete;
  ~InterfaceProgram();

  [[nodiscard]] bpf::LbProgram& program() { return program_; }
  [[nodiscard]] const bpf::LbProgram& program() const { return program_; }
  [[nodiscard]] std::uint32_t programId() const { return program_id_; }
  [[nodiscard]] const std::string& name() const { return name_; }
  [[nodiscard]] int ifindex() const { return ifindex_; }
  // Taken over from an earlier program (an upgrade or a restart after a crash): the indexes
  // its backends map had in use, for the caller to give the same backends the same indexes.
  [[nodiscard]] bool tookOver() const { return took_over_; }
  [[nodiscard]] const std::vector<std::pair<std::uint32_t, l4lb_backend>>& inherited() const {
    return inherited_;
  }

  // After the caller wrote the program's maps: a taken-over link gets this program (once).
  // Fails when the swap did; the earlier program then serves on.
  [[nodiscard]] base::Result<void> serve();
  // The start that took the link over went through: ending now detaches, as any stop does
  // (and new maps, when the pinned ones could not be used, are pinned in their place).
  void commit();
  // Another program runs behind the link: a binary upgrade's new process took it over, and
  // this one must not change the maps they share.
  [[nodiscard]] bool replaced() const;

 private:
  InterfaceProgram(std::string name, int ifindex, bpf::LbProgram program);

  [[nodiscard]] std::string pinPath(const char* object) const;
  [[nodiscard]] base::Result<void> attachAndPin();
  void removePins() const;

  std::string name_;
  int ifindex_ = 0;
  bpf::LbProgram program_;
  std::uint32_t program_id_ = 0;
  base::Fd link_;
  bool took_over_ = false;
  bool swapped_ = false;       // took_over_: serve() put this program behind the link
  bool maps_reused_ = false;   // took_over_: the pinned maps are this program's
  base::Fd previous_program_;  // took_over_: what ran behind the link before
  bool committed_ = false;
  std::vector<std::pair<std::uint32_t, l4lb_backend>> inherited_;
};

}  // namespace l4lb::packet
