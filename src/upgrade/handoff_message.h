#pragma once

// What the old process tells the new one in a binary upgrade, one message per SOCK_SEQPACKET
// datagram with its descriptors (net/fd_passing.h): who it is, each listening socket, then each
// proxied connection with the bytes l4lb holds for it, then the end. Both sides are l4lb, but
// possibly different versions, and the socket is the only way in: the decoder trusts nothing.

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "base/result.h"
#include "proxy/handoff_state.h"

namespace l4lb::upgrade {

inline constexpr std::uint32_t kProtocolVersion = 1;
inline constexpr std::size_t kMaxMessageBytes = 64 * 1024;
inline constexpr std::size_t kMaxTextBytes = 4096;          // names, URLs, digests
inline constexpr std::size_t kMaxPendingBytes = 16 * 1024;  // one relay buffer per direction
inline constexpr std::size_t kMaxAddressBytes = 128;        // sizeof(sockaddr_storage)
inline constexpr std::size_t kMaxTakenOverNames = 1024;     // listeners named in TakenOver
inline constexpr std::size_t kMaxBackendRecords = 64;       // per BackendStates message
// The last values of control::BackendState and control::AdminState, sent as they are (checked
// in handoff_message.cc). BackendState's 3 and 4 (draining, disabled) were never set by a check
// and are gone: no sender ever wrote them.
inline constexpr std::uint8_t kMaxHealthState = 2;
inline constexpr std::uint8_t kMaxAdminState = 2;

struct Hello {
  std::uint32_t protocol = kProtocolVersion;
  std::uint32_t pid = 0;
  std::string version;        // the old binary's
  std::string config_digest;  // of the config it serves
  bool operator==(const Hello&) const = default;
};

// Comes with one descriptor: the listening (or datagram) socket.
inline constexpr std::uint32_t kSharedSocket = UINT32_MAX;  // ListenerHandoff::worker

struct ListenerHandoff {
  std::string name;
  std::string bind;  // the URL as configured, to match the new config's listener
  // The worker whose own socket it is, or kSharedSocket: one socket all workers serve (Unix
  // stream listeners, and sockets the service manager passed).
  std::uint32_t worker = 0;
  bool operator==(const ListenerHandoff&) const = default;
};

// The session and flow states (DirectionState, SessionHandoff, FlowHandoff) are the proxy's own
// plain values; this file puts them on the wire.
using proxy::DirectionState;
using proxy::FlowHandoff;
using proxy::SessionHandoff;

// What the old process knows of one backend, so the new one serves with it from its first
// connection instead of waiting for checks: the checks' verdict and the operator's changes.
struct BackendRecord {
  std::string pool;
  std::string backend;      // its name
  std::string address;      // its URL: a backend of the same name elsewhere is another one
  std::uint8_t health = 0;  // control::BackendState
  std::uint8_t admin = 0;   // control::AdminState
  std::uint32_t weight = 0;
  std::string reason;  // of the last health change
  bool operator==(const BackendRecord&) const = default;
};

// Sent, as many as needed, before the listeners.
struct BackendStates {
  std::vector<BackendRecord> backends;  // at most kMaxBackendRecords
  bool operator==(const BackendStates&) const = default;
};

// The old process has sent every listening socket.
struct ListenersSent {
  std::uint32_t count = 0;
  bool operator==(const ListenersSent&) const = default;
};

// The new process answers ListenersSent: it is serving on these listeners (by name) from now on;
// the old one may stop accepting. Sockets of listeners not named were closed unused.
struct TakenOver {
  std::vector<std::string> listeners;
  bool operator==(const TakenOver&) const = default;
};

// Comes with one descriptor: the announce interface's TUN device (app/announcer.h), sent with
// the listeners, so the interface and its addresses (the announced VIPs) outlive the old process.
struct ListenerAdminState {
  std::string listener;
  std::uint8_t admin = 0;  // control::AdminState: drained or disabled withdraws its VIP
  bool operator==(const ListenerAdminState&) const = default;
};

struct AnnounceInterface {
  std::string name;
  // The listeners an operator drained or disabled (their VIPs stay withdrawn), at most
  // kMaxTakenOverNames.
  std::vector<ListenerAdminState> listeners;
  bool operator==(const AnnounceInterface&) const = default;
};

struct Done {
  std::uint32_t listeners = 0;
  std::uint32_t sessions = 0;
  bool operator==(const Done&) const = default;
};

using HandoffMessage = std::variant<Hello, ListenerHandoff, SessionHandoff, ListenersSent,
                                    TakenOver, FlowHandoff, BackendStates, Done, AnnounceInterface>;

[[nodiscard]] std::string encodeHandoff(const HandoffMessage& message);

// Every length is checked against the message and the limits above; unknown types, trailing
// bytes and impossible flag combinations are errors with a reason.
[[nodiscard]] base::Result<HandoffMessage> decodeHandoff(std::span<const std::byte> bytes);

// The descriptors that must arrive with `message`: anything else means the peer is broken.
[[nodiscard]] std::size_t handoffFdCount(const HandoffMessage& message);

}  // namespace l4lb::upgrade
