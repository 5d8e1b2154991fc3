#include "net/socket_file.h"

#include <fmt/format.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "net/socket_holders.h"

namespace l4lb::net {

base::Result<void> bindSocket(int fd, const Endpoint& endpoint, const SocketFile& file) {
  const auto* sun = reinterpret_cast<const sockaddr_un*>(&endpoint.addr);
  const bool path = endpoint.family() == AF_UNIX && sun->sun_path[0] != '\0';
  if (!path || !file.set()) {
    if (::bind(fd, endpoint.sockaddrPtr(), endpoint.addr_len) != 0) {
      return bindError(endpoint, errno);
    }
    return {};
  }
  // The umask is the process's: changed only for the bind, at start or on the reloading
  // thread, while no other thread of l4lb creates a file.
  const mode_t old_mask = file.mode >= 0 ? ::umask(0777) : 0;
  const int rc = ::bind(fd, endpoint.sockaddrPtr(), endpoint.addr_len);
  const int bind_errno = errno;
  if (file.mode >= 0) ::umask(old_mask);
  if (rc != 0) return bindError(endpoint, bind_errno);
  const char* name = sun->sun_path;
  auto undo = [&](const char* op) {
    base::Error error = base::lastError(op);
    ::unlink(name);
    return error;
  };
  if ((file.uid >= 0 || file.gid >= 0) &&
      ::chown(name, static_cast<uid_t>(file.uid), static_cast<gid_t>(file.gid)) != 0) {
    return undo(file.uid >= 0 ? "chown (user)" : "chown (group)");
  }
  if (file.mode >= 0 && ::chmod(name, static_cast<mode_t>(file.mode)) != 0) {
    return undo("chmod");
  }
  return {};
}

}  // namespace l4lb::net
