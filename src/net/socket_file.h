#pragma once

#include "base/result.h"
#include "net/endpoint.h"

namespace l4lb::net {

// The file of a unix:///PATH or unixgram:///PATH listening socket: who may connect or send to
// it is who may write it. -1 leaves a part as bind(2) makes it (mode 0777 & ~umask, owned by
// l4lb's user and group).
struct SocketFile {
  int mode = -1;       // 0..07777
  long long uid = -1;  // chown(2) owner
  long long gid = -1;  // chown(2) group

  [[nodiscard]] bool set() const { return mode >= 0 || uid >= 0 || gid >= 0; }
};

// bind(2) of `fd` to `endpoint`; a Unix path comes out with `file`'s mode and owner, never more
// open than asked for, not even for an instant (created 0000, then changed). A failed bind's
// error names who holds the address (bindError).
[[nodiscard]] base::Result<void> bindSocket(int fd, const Endpoint& endpoint,
                                            const SocketFile& file = {});

}  // namespace l4lb::net
