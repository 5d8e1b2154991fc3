#include "config/read_run_as.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cstring>
#include <vector>

#include "config/suggest.h"

namespace l4lb::config {

namespace {

std::vector<char> lookupBuffer() {
  long size = ::sysconf(_SC_GETPW_R_SIZE_MAX);
  long group_size = ::sysconf(_SC_GETGR_R_SIZE_MAX);
  if (group_size > size) size = group_size;
  // Large groups (many members) can exceed the hint; 64 KiB covers any sane /etc/group line.
  if (size < 65536) size = 65536;
  return std::vector<char>(static_cast<std::size_t>(size));
}

std::string lookupFailure(std::string_view what, const std::string& name, int rc) {
  if (rc != 0)
    return fmt::format("cannot look up {} {}: {}", what, quoteText(name), std::strerror(rc));
  return fmt::format("no such {} {} on this machine", what, quoteText(name));
}

}  // namespace

void readRunAs(TableReader& reader, GlobalConfig& global) {
  auto user = reader.name("user");
  auto group = reader.name("group");
  std::vector<char> buffer = lookupBuffer();
  if (user) {
    passwd entry{};
    passwd* found = nullptr;
    int rc = ::getpwnam_r(user->c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (found == nullptr) {
      reader.errors().add(reader.originOf("user"), lookupFailure("user", *user, rc));
    } else {
      global.user = *user;
      global.uid = found->pw_uid;
      global.gid = found->pw_gid;
    }
  }
  if (!group) return;
  if (!reader.has("user")) {
    reader.errors().add(reader.originOf("group"),
                        "needs user: l4lb changes its group only together with its user");
    return;
  }
  struct group entry {};
  struct group* found = nullptr;
  int rc = ::getgrnam_r(group->c_str(), &entry, buffer.data(), buffer.size(), &found);
  if (found == nullptr) {
    reader.errors().add(reader.originOf("group"), lookupFailure("group", *group, rc));
    return;
  }
  global.group = *group;
  global.gid = found->gr_gid;
}

}  // namespace l4lb::config
