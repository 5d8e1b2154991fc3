#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace l4lb::admin {

// Who may do what on an admin listener, decided from the request head as it came off the wire
// (cpp-httplib's parsed headers trim trailing spaces, stop at a NUL and keep only the first of
// duplicates, which is exactly what must not be trusted). README.md, "Admin API", says the same
// in prose:
//   - unix:// listeners: everything; the socket file's mode is the access control.
//   - tcp:// listeners: the Host header, when sent, names the address the client connected to
//     or localhost (a DNS-rebinding page sends its own name: 421); a request that may change
//     state (any method but GET and HEAD) with an Origin that is not such an http:// origin is
//     refused (403); at most one Authorization header, exactly "Bearer TOKEN" (400 otherwise);
//     changes need the token (401), and on a listener not on a loopback address reads need it
//     too.
struct AccessContext {
  bool over_unix = false;
  bool loopback_listener = true;  // the listener's address is 127.0.0.0/8 or ::1
  std::string local_ip;           // the address the client connected to, as inet_ntop writes it
  int local_port = 0;
  std::string_view token;  // [admin] token_file; empty: no change is possible over TCP
};

struct AccessVerdict {
  int status = 0;       // 0: served; else the refusal's HTTP status
  std::string message;  // why, for the refusal's JSON body
  bool may_change = false;
};

// `head`: the request line and header lines as received, up to and including the blank line.
[[nodiscard]] AccessVerdict decideAccess(const AccessContext& context, std::string_view method,
                                         std::string_view head);

// The values of the header `name` (case-insensitive) in `head`, in order, each as sent: after
// the colon and the spaces or tabs that follow it, up to the line's end (CR excluded), trailing
// bytes kept. A line folded onto the previous one (obs-fold) is returned as its own value with a
// leading space, so a caller can refuse it.
[[nodiscard]] std::vector<std::string_view> rawHeaderValues(std::string_view head,
                                                            std::string_view name);

// Whether `authority` (a Host header value, or what follows "http://" in an Origin) names the
// listener: localhost or the address the client connected to, with no port or that port.
[[nodiscard]] bool namesListener(std::string_view authority, const AccessContext& context);

// Whether the textual address is 127.0.0.0/8, ::1 or an IPv4-mapped loopback address.
[[nodiscard]] bool isLoopbackAddress(std::string_view ip);

}  // namespace l4lb::admin
