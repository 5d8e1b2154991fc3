#pragma once

#include <chrono>
#include <cstddef>
#include <optional>
#include <span>
#include <string_view>

namespace l4lb::admin {

// Where one HTTP/1.1 request ends in the bytes received so far, so that an admin listener's
// reader thread hands a connection to a serving thread only once its request is whole in memory
// (admin_http_server.h). Called with every byte received since the request began; answers:
//   - kNeedMore: the head has not ended (and is within `max_head`), or its Content-Length body
//     (within `max_body`) has not all come;
//   - kComplete: `length` bytes are the whole request, head and body; bytes after them belong to
//     the next request (pipelined);
//   - kHeadOnly: the head ends at `length` (or is over `max_head`: `length` is then every byte
//     received), and what follows is for the serving thread to read or refuse: a chunked or
//     otherwise transfer-encoded body, a Content-Length over `max_body` or not a single number
//     (cpp-httplib answers 413 or 400), or an "Expect: 100-continue" whose client waits for an
//     interim answer before it sends the body.
// The head ends at the first empty line, CRLF or bare LF as cpp-httplib reads lines. A request
// without Content-Length or Transfer-Encoding has no body (RFC 9112, section 6.3).
struct RequestFraming {
  enum class Kind { kNeedMore, kComplete, kHeadOnly };
  Kind kind = Kind::kNeedMore;
  std::size_t length = 0;
};

[[nodiscard]] RequestFraming frameRequest(std::string_view received, std::size_t max_head,
                                          std::size_t max_body);

// A connection a full admin listener could close to admit a new one: one its reader holds
// (between requests or partway through one), not one a thread is serving.
struct EvictionCandidate {
  bool serving = false;
  // When its current wait began: accept, the first byte of the request, or the end of the last
  // response for an idle kept-alive connection.
  std::chrono::steady_clock::time_point waiting_since;
};

// Which connection to close when a new one arrives at the cap: the one not being served that has
// waited longest, so clients trickling a request cannot hold the cap against clients that send
// theirs at once; none when every connection is being served (the newcomer is refused).
[[nodiscard]] std::optional<std::size_t> pickEvictee(
    std::span<const EvictionCandidate> connections);

}  // namespace l4lb::admin
