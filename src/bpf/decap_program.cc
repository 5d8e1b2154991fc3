#include "bpf/decap_program.h"

#include <bpf/libbpf.h>

#include <utility>

#include "bpf/map_io.h"
#include "xdp_decap.skel.h"

namespace l4lb::bpf {

void DecapProgram::SkeletonDeleter::operator()(xdp_decap* skeleton) const {
  xdp_decap__destroy(skeleton);
}

DecapProgram::DecapProgram(std::unique_ptr<xdp_decap, SkeletonDeleter> skeleton)
    : skeleton_(std::move(skeleton)) {}
DecapProgram::DecapProgram(DecapProgram&&) noexcept = default;
DecapProgram& DecapProgram::operator=(DecapProgram&&) noexcept = default;
DecapProgram::~DecapProgram() = default;

base::Result<DecapProgram> DecapProgram::load() {
  routeLibbpfLog();
  std::unique_ptr<xdp_decap, SkeletonDeleter> skeleton(xdp_decap__open_and_load());
  if (!skeleton) return base::lastError("load the XDP decapsulation program (xdp_decap)");
  return DecapProgram(std::move(skeleton));
}

int DecapProgram::programFd() const { return bpf_program__fd(skeleton_->progs.xdp_decap); }

base::Result<std::uint64_t> DecapProgram::counter(l4lb_decap_counter counter) const {
  return sumPerCpuU64(bpf_map__fd(skeleton_->maps.decap_stats), "decap_stats", counter);
}

}  // namespace l4lb::bpf
