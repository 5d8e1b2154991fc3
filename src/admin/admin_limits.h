#pragma once

#include <chrono>
#include <cstddef>

namespace l4lb::admin {

// How much of l4lb one admin listener may hold (README.md, "Admin API"). Each listener has its
// own reader thread and serving threads, so no client of a tcp:// listener can take the unix://
// socket's.
//
// Threads that run a whole request through cpp-httplib (routing, handler, response); requests are
// read by the listener's reader thread and reach these only once they are whole.
inline constexpr std::size_t kAdminThreads = 4;
// Connections open at once, being read and being served. A new one at the cap closes the
// connection not being served that has waited longest; only when all are being served is the new
// one answered 503 and closed, so a flood holds no more descriptors than this.
inline constexpr std::size_t kMaxAdminConnections = 32;
// From accept (or, on a kept-alive connection, from the first byte of the next request) to the
// last byte of the body: one deadline for the whole request, however the bytes trickle in. At
// it a partial request is answered 408 and its connection closed.
inline constexpr std::chrono::seconds kAdminRequestDeadline{10};
// For writing one response, however slowly the client reads.
inline constexpr std::chrono::seconds kAdminWriteDeadline{10};
// The request line and headers together.
inline constexpr std::size_t kMaxAdminHeadBytes = 16 * 1024;
// A request's body (cpp-httplib answers 413 past it).
inline constexpr std::size_t kMaxAdminBodyBytes = 64 * 1024;

}  // namespace l4lb::admin
