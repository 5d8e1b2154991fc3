#pragma once

#include <cstdint>

#include "base/fd.h"
#include "base/result.h"

// Attaching an XDP program to an interface, through a bpf_link: the link's descriptor is the
// attachment. Closing it detaches the program; pinning it (bpf_obj_pin) keeps the program
// attached after the process ends, and a new process that opens the pin can swap the program
// atomically (a binary upgrade). Links and the older netlink attach (bpf_xdp_attach) do not mix
// on one interface: l4lb uses links only.
namespace l4lb::bpf {

// Attaches in the driver's (native) mode where the driver has one (veth does), else generic;
// `flags` XDP_FLAGS_DRV_MODE: native or fail. Fails with EBUSY when the interface already has an
// XDP program.
[[nodiscard]] base::Result<base::Fd> attachXdp(int ifindex, int program_fd,
                                               std::uint32_t flags = 0);

// Replaces the program behind an attached link; each packet sees the old or the new one.
[[nodiscard]] base::Result<void> replaceXdpProgram(int link_fd, int program_fd);

// The id of the XDP program attached to the interface (any mode), 0 when there is none.
[[nodiscard]] base::Result<std::uint32_t> attachedXdpProgramId(int ifindex);

// The id the kernel gave a loaded program.
[[nodiscard]] base::Result<std::uint32_t> programId(int program_fd);

}  // namespace l4lb::bpf
