#pragma once

#include <cstdint>
#include <memory>

#include "base/result.h"
#include "bpf/lb_layout.h"

struct xdp_decap;  // the bpftool skeleton (BUILD/bpf/xdp_decap.skel.h)

namespace l4lb::bpf {

// The backends' decapsulation program (xdp_decap.bpf.c) loaded into the kernel; attach it with
// bpf/xdp_link.h. Owns the program and its counters.
class DecapProgram {
 public:
  [[nodiscard]] static base::Result<DecapProgram> load();

  DecapProgram(DecapProgram&&) noexcept;
  DecapProgram& operator=(DecapProgram&&) noexcept;
  ~DecapProgram();

  [[nodiscard]] int programFd() const;
  // Packets decapsulated, summed over CPUs.
  [[nodiscard]] base::Result<std::uint64_t> counter(l4lb_decap_counter counter) const;

 private:
  struct SkeletonDeleter {
    void operator()(xdp_decap* skeleton) const;
  };
  explicit DecapProgram(std::unique_ptr<xdp_decap, SkeletonDeleter> skeleton);

  std::unique_ptr<xdp_decap, SkeletonDeleter> skeleton_;
};

}  // namespace l4lb::bpf
