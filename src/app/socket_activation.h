#pragma once

// Socket activation (sd_listen_fds(3)): the service manager binds some listening sockets and
// passes them as descriptors 3, 4, ... with LISTEN_FDS, LISTEN_FDNAMES (FileDescriptorName= in
// the .socket unit) and LISTEN_PID. A passed socket whose name is a [[listener]] name serves that
// listener in place of a socket l4lb would bind.

#include <optional>
#include <string>
#include <vector>

#include "base/fd.h"
#include "base/result.h"
#include "config/config.h"

namespace l4lb::app {

// Takes the passed sockets (and unsets LISTEN_*, so nothing l4lb starts inherits them). Per
// listener of `config`: the socket it is to serve, non-blocking and close-on-exec, or an empty
// Fd when none was passed for it. A passed socket no listener claims is logged and closed. A
// socket of the wrong type (stream, datagram), family or address for its listener, two with one
// name, or one named after an mq:// listener: an error naming every such socket (the listener,
// the name and both addresses), one per line.
[[nodiscard]] base::Result<std::vector<base::Fd>> takeActivatedSockets(
    const config::Config& config);

}  // namespace l4lb::app
