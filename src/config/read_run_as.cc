#include "config/read_run_as.h"

#include <grp.h>
#include <pwd.h>
#include <unistd.h>

#include <cstring>
#include <optional>
#include <string>
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

// A user or group for a socket file: a name this machine knows, or a numeric id.
std::optional<long long> lookupOwner(TableReader& reader, std::string_view key, bool user,
                                     std::vector<char>& buffer) {
  auto name = reader.name(key);
  if (!name) return std::nullopt;
  if (name->find_first_not_of("0123456789") == std::string::npos && name->size() <= 9) {
    return std::stoll(*name);
  }
  int rc = 0;
  if (user) {
    passwd entry{};
    passwd* found = nullptr;
    rc = ::getpwnam_r(name->c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (found != nullptr) return found->pw_uid;
  } else {
    struct group entry {};
    struct group* found = nullptr;
    rc = ::getgrnam_r(name->c_str(), &entry, buffer.data(), buffer.size(), &found);
    if (found != nullptr) return found->gr_gid;
  }
  reader.errors().add(reader.originOf(key), lookupFailure(user ? "user" : "group", *name, rc));
  return std::nullopt;
}

}  // namespace

void readSocketFile(TableReader& reader, net::SocketFile& file) {
  if (auto mode = reader.string("mode")) {
    const bool octal = mode->size() >= 3 && mode->size() <= 4 &&
                       mode->find_first_not_of("01234567") == std::string::npos;
    if (!octal) {
      reader.errors().add(reader.originOf("mode"),
                          fmt::format("invalid mode {}: expected an octal file mode as a string, "
                                      "like \"0660\" (read and write for the owner and group)",
                                      quoteText(*mode)));
    } else {
      file.mode = static_cast<int>(std::stol(*mode, nullptr, 8));
    }
  }
  std::vector<char> buffer = lookupBuffer();
  if (auto uid = lookupOwner(reader, "user", /*user=*/true, buffer)) file.uid = *uid;
  if (auto gid = lookupOwner(reader, "group", /*user=*/false, buffer)) file.gid = *gid;
}

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
