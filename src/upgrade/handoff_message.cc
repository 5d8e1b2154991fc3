#include "upgrade/handoff_message.h"

#include <fmt/format.h>

#include <cstring>
#include <optional>

#include "control/admin_state.h"
#include "control/health_snapshot.h"
#include "upgrade/handoff_wire.h"

namespace l4lb::upgrade {

// A backend's states cross the upgrade as these numbers, between two binaries that may not be
// the same build: reordering or renumbering either enum changes the protocol, so it must fail
// here rather than restore the wrong state.
static_assert(static_cast<std::uint8_t>(control::BackendState::kUnknown) == 0);
static_assert(static_cast<std::uint8_t>(control::BackendState::kUp) == 1);
static_assert(static_cast<std::uint8_t>(control::BackendState::kDown) == 2);
static_assert(kMaxHealthState == static_cast<std::uint8_t>(control::BackendState::kDown));
static_assert(static_cast<std::uint8_t>(control::AdminState::kEnabled) == 0);
static_assert(static_cast<std::uint8_t>(control::AdminState::kDraining) == 1);
static_assert(static_cast<std::uint8_t>(control::AdminState::kDisabled) == 2);
static_assert(kMaxAdminState == static_cast<std::uint8_t>(control::AdminState::kDisabled));

namespace {

enum class MessageType : std::uint8_t {
  kHello = 1,
  kListener = 2,
  kSession = 3,
  kDone = 4,
  kListenersSent = 5,
  kTakenOver = 6,
  kFlow = 7,
  kBackendStates = 8,
  kAnnounceInterface = 9,
};

// Direction flags.
constexpr std::uint8_t kSourceEof = 1;
constexpr std::uint8_t kShutDown = 2;
constexpr std::uint8_t kKnownFlags = kSourceEof | kShutDown;

void writeDirection(Writer& w, const DirectionState& d) {
  w.text(d.pending);
  w.u64(d.bytes);
  w.u32(d.piped);
  w.u8(static_cast<std::uint8_t>((d.source_eof ? kSourceEof : 0) | (d.shut_down ? kShutDown : 0)));
}

std::optional<DirectionState> readDirection(Reader& r, const char* which) {
  DirectionState d;
  auto pending = r.text(which, kMaxPendingBytes);
  auto bytes = r.u64(which);
  auto piped = r.u32(which);
  auto flags = r.u8(which);
  if (r.failed()) return std::nullopt;
  if ((*flags & ~kKnownFlags) != 0) {
    r.fail(fmt::format("{} has unknown flags {:#x}", which, *flags));
    return std::nullopt;
  }
  d.pending = std::move(*pending);
  d.bytes = *bytes;
  d.piped = *piped;
  d.source_eof = (*flags & kSourceEof) != 0;
  d.shut_down = (*flags & kShutDown) != 0;
  // The EOF is passed on only after every byte before it: nothing may wait behind it.
  if (d.shut_down && (!d.source_eof || !d.pending.empty() || d.piped != 0)) {
    r.fail(fmt::format("{} was shut down with bytes still to send or no EOF read", which));
    return std::nullopt;
  }
  if (d.pending.size() + std::uint64_t{d.piped} > d.bytes) {
    r.fail(fmt::format("{} holds more bytes than it ever read", which));
    return std::nullopt;
  }
  return d;
}

// Each message's body, written and read field by field in the same order.

void writeBody(Writer& w, const Hello& m) {
  w.u8(static_cast<std::uint8_t>(MessageType::kHello));
  w.u32(m.protocol);
  w.u32(m.pid);
  w.text(m.version);
  w.text(m.config_digest);
}

std::optional<Hello> readHello(Reader& r) {
  Hello m;
  auto protocol = r.u32("protocol version");
  auto pid = r.u32("pid");
  auto version = r.text("version", kMaxTextBytes);
  auto digest = r.text("config digest", kMaxTextBytes);
  if (r.failed()) return std::nullopt;
  m.protocol = *protocol;
  m.pid = *pid;
  m.version = std::move(*version);
  m.config_digest = std::move(*digest);
  return m;
}

void writeBody(Writer& w, const ListenerHandoff& m) {
  w.u8(static_cast<std::uint8_t>(MessageType::kListener));
  w.text(m.name);
  w.text(m.bind);
  w.u32(m.worker);
}

std::optional<ListenerHandoff> readListener(Reader& r) {
  ListenerHandoff m;
  auto name = r.text("listener name", kMaxTextBytes);
  auto bind = r.text("bind", kMaxTextBytes);
  auto worker = r.u32("worker");
  if (r.failed()) return std::nullopt;
  m.name = std::move(*name);
  m.bind = std::move(*bind);
  m.worker = *worker;
  return m;
}

void writeBody(Writer& w, const SessionHandoff& m) {
  w.u8(static_cast<std::uint8_t>(MessageType::kSession));
  w.text(m.listener);
  w.text(m.pool);
  w.text(m.backend);
  w.text(m.client_address);
  w.u64(m.age_ms);
  w.u8(m.attempts);
  writeDirection(w, m.upstream);
  writeDirection(w, m.downstream);
}

std::optional<SessionHandoff> readSession(Reader& r) {
  SessionHandoff m;
  auto listener = r.text("listener name", kMaxTextBytes);
  auto pool = r.text("pool name", kMaxTextBytes);
  auto backend = r.text("backend name", kMaxTextBytes);
  auto address = r.text("client address", kMaxAddressBytes);
  auto age = r.u64("age");
  auto attempts = r.u8("attempts");
  if (r.failed()) return std::nullopt;
  auto upstream = readDirection(r, "upstream");
  if (!upstream) return std::nullopt;
  auto downstream = readDirection(r, "downstream");
  if (!downstream) return std::nullopt;
  m.listener = std::move(*listener);
  m.pool = std::move(*pool);
  m.backend = std::move(*backend);
  m.client_address = std::move(*address);
  m.age_ms = *age;
  m.attempts = *attempts;
  m.upstream = std::move(*upstream);
  m.downstream = std::move(*downstream);
  return m;
}

void writeBody(Writer& w, const ListenersSent& m) {
  w.u8(static_cast<std::uint8_t>(MessageType::kListenersSent));
  w.u32(m.count);
}

std::optional<ListenersSent> readListenersSent(Reader& r) {
  auto count = r.u32("listener count");
  if (r.failed()) return std::nullopt;
  return ListenersSent{*count};
}

void writeBody(Writer& w, const TakenOver& m) {
  w.u8(static_cast<std::uint8_t>(MessageType::kTakenOver));
  w.u32(static_cast<std::uint32_t>(m.listeners.size()));
  for (const auto& name : m.listeners) w.text(name);
}

std::optional<TakenOver> readTakenOver(Reader& r) {
  TakenOver m;
  auto count = r.u32("taken-over listener count");
  if (r.failed()) return std::nullopt;
  if (*count > kMaxTakenOverNames) {
    r.fail(fmt::format("{} taken-over listeners, more than {}", *count, kMaxTakenOverNames));
    return std::nullopt;
  }
  for (std::uint32_t i = 0; i < *count; ++i) {
    auto name = r.text("taken-over listener name", kMaxTextBytes);
    if (r.failed()) return std::nullopt;
    m.listeners.push_back(std::move(*name));
  }
  return m;
}

void writeBody(Writer& w, const FlowHandoff& m) {
  w.u8(static_cast<std::uint8_t>(MessageType::kFlow));
  w.u32(m.worker);
  w.text(m.listener);
  w.text(m.pool);
  w.text(m.backend);
  w.text(m.client_address);
  if (m.socket_cookie != 0) w.u64(m.socket_cookie);
}

std::optional<FlowHandoff> readFlow(Reader& r) {
  FlowHandoff m;
  auto worker = r.u32("worker");
  auto listener = r.text("listener name", kMaxTextBytes);
  auto pool = r.text("pool name", kMaxTextBytes);
  auto backend = r.text("backend name", kMaxTextBytes);
  auto address = r.text("client address", kMaxAddressBytes);
  if (r.failed()) return std::nullopt;
  m.worker = *worker;
  m.listener = std::move(*listener);
  m.pool = std::move(*pool);
  m.backend = std::move(*backend);
  m.client_address = std::move(*address);
  if (!r.atEnd()) {
    auto cookie = r.u64("socket cookie");
    if (r.failed()) return std::nullopt;
    // No cookie is sent as none, so each message has one wire form.
    if (*cookie == 0) {
      r.fail("socket cookie 0 (sent as no cookie)");
      return std::nullopt;
    }
    m.socket_cookie = *cookie;
  }
  return m;
}

void writeBody(Writer& w, const BackendStates& m) {
  w.u8(static_cast<std::uint8_t>(MessageType::kBackendStates));
  w.u32(static_cast<std::uint32_t>(m.backends.size()));
  for (const auto& b : m.backends) {
    w.text(b.pool);
    w.text(b.backend);
    w.text(b.address);
    w.u8(b.health);
    w.u8(b.admin);
    w.u32(b.weight);
    w.text(b.reason);
  }
}

std::optional<BackendStates> readBackendStates(Reader& r) {
  BackendStates m;
  auto count = r.u32("backend record count");
  if (r.failed()) return std::nullopt;
  if (*count > kMaxBackendRecords) {
    r.fail(fmt::format("{} backend records, more than {}", *count, kMaxBackendRecords));
    return std::nullopt;
  }
  for (std::uint32_t i = 0; i < *count; ++i) {
    BackendRecord b;
    auto pool = r.text("pool name", kMaxTextBytes);
    auto backend = r.text("backend name", kMaxTextBytes);
    auto address = r.text("backend address", kMaxTextBytes);
    auto health = r.u8("health state");
    auto admin = r.u8("admin state");
    auto weight = r.u32("weight");
    auto reason = r.text("health reason", kMaxTextBytes);
    if (r.failed()) return std::nullopt;
    if (*health > kMaxHealthState || *admin > kMaxAdminState) {
      r.fail(fmt::format("backend \"{}\" has an unknown state", *backend));
      return std::nullopt;
    }
    b.pool = std::move(*pool);
    b.backend = std::move(*backend);
    b.address = std::move(*address);
    b.health = *health;
    b.admin = *admin;
    b.weight = *weight;
    b.reason = std::move(*reason);
    m.backends.push_back(std::move(b));
  }
  return m;
}

void writeBody(Writer& w, const Done& m) {
  w.u8(static_cast<std::uint8_t>(MessageType::kDone));
  w.u32(m.listeners);
  w.u32(m.sessions);
}

std::optional<Done> readDone(Reader& r) {
  Done m;
  auto listeners = r.u32("listener count");
  auto sessions = r.u32("session count");
  if (r.failed()) return std::nullopt;
  m.listeners = *listeners;
  m.sessions = *sessions;
  return m;
}

void writeBody(Writer& w, const AnnounceInterface& m) {
  w.u8(static_cast<std::uint8_t>(MessageType::kAnnounceInterface));
  w.text(m.name);
  w.u32(static_cast<std::uint32_t>(m.listeners.size()));
  for (const auto& listener : m.listeners) {
    w.text(listener.listener);
    w.u8(listener.admin);
  }
}

std::optional<AnnounceInterface> readAnnounceInterface(Reader& r) {
  AnnounceInterface m;
  auto name = r.text("announce interface name", kMaxTextBytes);
  auto count = r.u32("listener state count");
  if (r.failed()) return std::nullopt;
  if (*count > kMaxTakenOverNames) {
    r.fail(fmt::format("{} listener states, more than {}", *count, kMaxTakenOverNames));
    return std::nullopt;
  }
  m.name = std::move(*name);
  for (std::uint32_t i = 0; i < *count; ++i) {
    auto listener = r.text("listener name", kMaxTextBytes);
    auto admin = r.u8("listener state");
    if (r.failed()) return std::nullopt;
    if (*admin > kMaxAdminState) {
      r.fail(fmt::format("listener {} has unknown state {}", *listener, *admin));
      return std::nullopt;
    }
    m.listeners.push_back(ListenerAdminState{std::move(*listener), *admin});
  }
  return m;
}

std::optional<HandoffMessage> readBody(MessageType type, Reader& r) {
  switch (type) {
    case MessageType::kHello: return readHello(r);
    case MessageType::kListener: return readListener(r);
    case MessageType::kSession: return readSession(r);
    case MessageType::kListenersSent: return readListenersSent(r);
    case MessageType::kTakenOver: return readTakenOver(r);
    case MessageType::kFlow: return readFlow(r);
    case MessageType::kBackendStates: return readBackendStates(r);
    case MessageType::kDone: return readDone(r);
    case MessageType::kAnnounceInterface: return readAnnounceInterface(r);
  }
  r.fail(fmt::format("unknown message type {}", static_cast<unsigned>(type)));
  return std::nullopt;
}

}  // namespace

std::string encodeHandoff(const HandoffMessage& message) {
  Writer w;
  std::visit([&w](const auto& m) { writeBody(w, m); }, message);
  return w.take();
}

base::Result<HandoffMessage> decodeHandoff(std::span<const std::byte> bytes) {
  if (bytes.size() > kMaxMessageBytes) {
    return base::failure(
        fmt::format("message of {} bytes, more than {}", bytes.size(), kMaxMessageBytes));
  }
  Reader r(bytes);
  auto type = r.u8("message type");
  if (!type) return base::failure(r.error());
  auto message = readBody(static_cast<MessageType>(*type), r);
  if (!message) return base::failure(r.error());
  if (!r.atEnd()) {
    return base::failure(fmt::format("{} bytes after the end of the message", r.remaining()));
  }
  return std::move(*message);
}

std::size_t handoffFdCount(const HandoffMessage& message) {
  if (std::holds_alternative<ListenerHandoff>(message)) return 1;
  if (std::holds_alternative<FlowHandoff>(message)) return 1;
  if (std::holds_alternative<AnnounceInterface>(message)) return 1;
  if (const auto* session = std::get_if<SessionHandoff>(&message)) {
    return 2 + (session->upstream.piped != 0 ? 2 : 0) + (session->downstream.piped != 0 ? 2 : 0);
  }
  return 0;
}

}  // namespace l4lb::upgrade
