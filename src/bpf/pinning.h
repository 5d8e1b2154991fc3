#pragma once

#include <cstdint>
#include <string>

#include "base/fd.h"
#include "base/result.h"

// BPF objects pinned on a BPF filesystem (bpffs), so that they outlive the process that made
// them: a binary upgrade's new process opens them and carries on with the same attachment and
// the same connection table (docs/packet-path.md, "Upgrade and restart").
namespace l4lb::bpf {

// Where bpffs is normally mounted. Under `ip netns exec` /sys is a fresh sysfs without it.
inline constexpr const char* kBpffsRoot = "/sys/fs/bpf";

// Mounts a BPF filesystem on kBpffsRoot unless one is there. The mount belongs to this process's
// mount namespace: processes it starts (a binary upgrade's fork and exec) see it too.
[[nodiscard]] base::Result<void> ensureBpffs();

// Pins the object (a map, a program or a link) at `path`, which must not exist.
[[nodiscard]] base::Result<void> pinObject(int fd, const std::string& path);

// The object pinned at `path`; an error with ENOENT when nothing is.
[[nodiscard]] base::Result<base::Fd> openPinned(const std::string& path);

// A link's program and, for an XDP link, its interface (0 once the interface went away, which
// detaches the link).
struct LinkInfo {
  std::uint32_t program_id = 0;
  int ifindex = 0;
};
[[nodiscard]] base::Result<LinkInfo> linkInfo(int link_fd);

// Detaches the program behind a link now, even while a pin or another process holds the link.
[[nodiscard]] base::Result<void> detachLink(int link_fd);

// A descriptor of the loaded program with this id.
[[nodiscard]] base::Result<base::Fd> programById(std::uint32_t id);

}  // namespace l4lb::bpf
