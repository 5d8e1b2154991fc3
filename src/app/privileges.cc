#include "app/privileges.h"

#include <fmt/format.h>
#include <grp.h>
#include <linux/capability.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <vector>

#include "base/log.h"

namespace l4lb::app {

namespace {

std::string groupList() {
  const int count = ::getgroups(0, nullptr);
  if (count <= 0) return "none";
  std::vector<gid_t> groups(static_cast<std::size_t>(count));
  const int got = ::getgroups(count, groups.data());
  std::string text;
  for (int i = 0; i < got; ++i) {
    if (!text.empty()) text += ",";
    text += std::to_string(groups[static_cast<std::size_t>(i)]);
  }
  return text.empty() ? "none" : text;
}

std::atomic<bool> dropped{false};

// A pool with source = "client" binds each connection to its client's address
// (IP_TRANSPARENT), which needs CAP_NET_RAW: that one capability outlives the change of user.
bool needsTransparent(const config::Config& config) {
  return std::any_of(config.pools.begin(), config.pools.end(), [](const auto& pool) {
    return pool.source.kind == config::SourceKind::kClient;
  });
}

// Leaves CAP_NET_RAW, and nothing else, permitted and effective (after setuid with
// PR_SET_KEEPCAPS, which keeps the permitted set and clears the effective one).
bool keepOnlyNetRaw() {
  __user_cap_header_struct header{_LINUX_CAPABILITY_VERSION_3, 0};
  __user_cap_data_struct data[_LINUX_CAPABILITY_U32S_3]{};
  data[CAP_TO_INDEX(CAP_NET_RAW)].permitted = CAP_TO_MASK(CAP_NET_RAW);
  data[CAP_TO_INDEX(CAP_NET_RAW)].effective = CAP_TO_MASK(CAP_NET_RAW);
  return ::syscall(SYS_capset, &header, data) == 0;
}

base::Error failed(const char* step, const config::GlobalConfig& global) {
  return base::lastError(step).within(fmt::format("global.user \"{}\"", global.user));
}

}  // namespace

bool privilegesDropped() { return dropped.load(std::memory_order_relaxed); }

base::Result<void> dropPrivileges(const config::Config& config) {
  const auto& global = config.global;
  if (global.user.empty()) return {};
  const uid_t uid = global.uid;
  const gid_t gid = global.gid;
  if (::geteuid() != 0) {
    if (::geteuid() == uid && ::getegid() == gid) {
      base::logInfo("global.user \"{}\": already running as uid {} gid {}", global.user, uid, gid);
      return {};
    }
    return base::failure(fmt::format(
        "global.user \"{}\": changing to uid {} gid {} needs l4lb started as root (it runs as uid "
        "{} gid {})",
        global.user, uid, gid, ::geteuid(), ::getegid()));
  }
  for (const auto& endpoint : config.admin.listen) {
    if (endpoint.kind != net::EndpointKind::kUnix) continue;
    const char* path = reinterpret_cast<const sockaddr_un*>(&endpoint.addr)->sun_path;
    if (::chown(path, uid, gid) != 0) {
      return base::failure(fmt::format("global.user \"{}\": chown of the admin socket {}: {}",
                                       global.user, path, std::strerror(errno)));
    }
  }
  if (::initgroups(global.user.c_str(), gid) != 0) {
    return failed("initgroups", global);
  }
  if (::setgid(gid) != 0) {
    return failed("setgid", global);
  }
  const bool keep_net_raw = needsTransparent(config) && uid != 0;
  if (keep_net_raw && ::prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) != 0) {
    return failed("prctl(PR_SET_KEEPCAPS)", global);
  }
  if (::setuid(uid) != 0) {
    return failed("setuid", global);
  }
  if (keep_net_raw) {
    const bool kept = keepOnlyNetRaw();
    ::prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0);
    if (!kept) return failed("capset(CAP_NET_RAW)", global);
  }
  uid_t ruid = 0;
  uid_t euid = 0;
  uid_t suid = 0;
  gid_t rgid = 0;
  gid_t egid = 0;
  gid_t sgid = 0;
  if (::getresuid(&ruid, &euid, &suid) != 0 || ::getresgid(&rgid, &egid, &sgid) != 0 ||
      ruid != uid || euid != uid || suid != uid || rgid != gid || egid != gid || sgid != gid) {
    return base::failure(
        fmt::format("global.user \"{}\": after the change the ids are not all uid {} gid {}",
                    global.user, uid, gid));
  }
  // The saved set-user-ID is gone too: going back must fail.
  if (uid != 0 && (::setuid(0) == 0 || ::seteuid(0) == 0)) {
    return base::failure(
        fmt::format("global.user \"{}\": root could be regained after the change", global.user));
  }
  dropped.store(true, std::memory_order_relaxed);
  if (keep_net_raw) {
    base::logInfo("keeping CAP_NET_RAW as user \"{}\": a pool has source = \"client\"",
                  global.user);
  }
  base::logInfo(
      "running as user \"{}\" (uid {}), group {} (gid {}), supplementary groups: {}", global.user,
      uid, global.group.empty() ? "(the user's)" : "\"" + global.group + "\"", gid, groupList());
  return {};
}

}  // namespace l4lb::app
