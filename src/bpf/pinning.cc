#include "bpf/pinning.h"

#include <bpf/bpf.h>
#include <linux/magic.h>
#include <sys/mount.h>
#include <sys/statfs.h>

#include <cerrno>

namespace l4lb::bpf {

base::Result<void> ensureBpffs() {
  struct statfs info {};
  if (::statfs(kBpffsRoot, &info) != 0) return base::lastError("statfs /sys/fs/bpf");
  if (static_cast<unsigned long>(info.f_type) == BPF_FS_MAGIC) return {};
  if (::mount("bpf", kBpffsRoot, "bpf", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=0700") != 0) {
    return base::lastError("mount -t bpf bpf /sys/fs/bpf");
  }
  return {};
}

base::Result<void> pinObject(int fd, const std::string& path) {
  if (bpf_obj_pin(fd, path.c_str()) != 0) return base::lastError("bpf_obj_pin");
  return {};
}

base::Result<base::Fd> openPinned(const std::string& path) {
  base::Fd fd(bpf_obj_get(path.c_str()));
  if (!fd) return base::lastError("bpf_obj_get");
  return fd;
}

base::Result<LinkInfo> linkInfo(int link_fd) {
  bpf_link_info info{};
  std::uint32_t length = sizeof(info);
  if (bpf_obj_get_info_by_fd(link_fd, &info, &length) != 0) {
    return base::lastError("bpf_obj_get_info_by_fd (a link)");
  }
  LinkInfo out;
  out.program_id = info.prog_id;
  if (info.type == BPF_LINK_TYPE_XDP) out.ifindex = static_cast<int>(info.xdp.ifindex);
  return out;
}

base::Result<void> detachLink(int link_fd) {
  if (bpf_link_detach(link_fd) != 0 && errno != ENOLINK) return base::lastError("bpf_link_detach");
  return {};
}

base::Result<base::Fd> programById(std::uint32_t id) {
  base::Fd fd(bpf_prog_get_fd_by_id(id));
  if (!fd) return base::lastError("bpf_prog_get_fd_by_id");
  return fd;
}

}  // namespace l4lb::bpf
