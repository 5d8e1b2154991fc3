#pragma once

#include <cstdint>

#include "base/result.h"

namespace l4lb::net {

// Makes the kernel hand every connection (or datagram) from one client IP address to the same
// socket of a SO_REUSEPORT group: socket index = source address mod `sockets`. Per-source
// limits can then be counted by each worker alone, exactly. The default reuseport hash covers
// the ports too, which would spread one client's connections over all workers.
//
// Applies to the whole group; set on one socket after all `sockets` sockets are bound (the
// index is the order in which they joined). A program answering an index past the group falls
// back to the kernel's hash, so a shrunken group still works.
[[nodiscard]] base::Result<void> steerBySource(int fd, std::uint32_t sockets);

}  // namespace l4lb::net
