#include "bpf/xdp_link.h"

#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/if_link.h>

namespace l4lb::bpf {

base::Result<base::Fd> attachXdp(int ifindex, int program_fd, std::uint32_t flags) {
  LIBBPF_OPTS(bpf_link_create_opts, options, .flags = flags);
  base::Fd link(bpf_link_create(program_fd, ifindex, BPF_XDP, &options));
  if (!link) return base::lastError("bpf_link_create (XDP)");
  return link;
}

base::Result<void> replaceXdpProgram(int link_fd, int program_fd) {
  if (bpf_link_update(link_fd, program_fd, nullptr) != 0) {
    return base::lastError("bpf_link_update (XDP)");
  }
  return {};
}

base::Result<std::uint32_t> attachedXdpProgramId(int ifindex) {
  bpf_xdp_query_opts query{};
  query.sz = sizeof(query);
  if (bpf_xdp_query(ifindex, 0, &query) != 0) return base::lastError("bpf_xdp_query");
  return query.prog_id;
}

base::Result<std::uint32_t> programId(int program_fd) {
  bpf_prog_info info{};
  std::uint32_t length = sizeof(info);
  if (bpf_obj_get_info_by_fd(program_fd, &info, &length) != 0) {
    return base::lastError("bpf_obj_get_info_by_fd");
  }
  return info.id;
}

}  // namespace l4lb::bpf
