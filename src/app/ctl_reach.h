#pragma once

// What `l4lb ctl` says when it cannot reach the admin API. The HTTP client says only
// "Connection" whether nothing runs, the socket file is missing, it is not a socket, or access
// is denied: ctl asks the system itself, as the client did, to tell which and what to do.

#include <string>
#include <string_view>

#include "net/endpoint.h"

namespace l4lb::app {

// What to try when l4lb cannot be found where ctl looked.
inline constexpr std::string_view kCtlHint = "is l4lb running? pass --socket PATH or -c FILE";

// --socket's value as an admin URL: unix:// and tcp:// as given; anything else without "://"
// is a Unix socket's path (relative ones taken from the working directory).
[[nodiscard]] std::string adminUrlOf(std::string_view socket_option);

// Why connecting to `endpoint` fails, found by stat(2) (Unix sockets) and connect(2): the
// errno's text and a hint ("no such file ...; is l4lb running? ..."). Empty when a connection
// can be made now (the failure was elsewhere, or is gone). Blocks at most about 5 s (tcp://).
[[nodiscard]] std::string whyUnreachable(const net::Endpoint& endpoint);

}  // namespace l4lb::app
