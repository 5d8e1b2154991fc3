#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "proto/check_reply.h"

namespace l4lb::proto {

// What one step of a check conversation decided, and what it wants sent now. A step may send
// and still need more (a login answered, its reply awaited).
struct DialogStep {
  CheckVerdict verdict;  // kNeedMore: read on
  std::string send;      // bytes to send before reading on; may be empty
};

// One health-check conversation with a backend as a pure state machine, created afresh for
// every check. The probe connects, sends opening(), passes every byte it receives to
// onReceived() and sends what each step asks for, until a step decides up or down; when the
// check ends with the server's session still open it sends farewell() first. No I/O here, so
// each protocol is unit-tested on recorded bytes.
class CheckDialog {
 public:
  virtual ~CheckDialog() = default;
  CheckDialog() = default;
  CheckDialog(const CheckDialog&) = delete;
  CheckDialog& operator=(const CheckDialog&) = delete;

  // What to send once connected; empty when the server speaks first (mysql).
  [[nodiscard]] virtual std::string opening() = 0;
  // `received` is only the new bytes: a dialog keeps what it still needs of earlier ones.
  [[nodiscard]] virtual DialogStep onReceived(std::string_view received) = 0;
  // What a polite client sends before closing a session the server granted (COM_QUIT,
  // Terminate), so the check never shows up as an aborted connection. Empty: nothing owed.
  [[nodiscard]] virtual std::string farewell() const { return {}; }
  // After a verified TLS handshake (https): the server certificate's notAfter, Unix seconds, for
  // the expiry warning and metric. 0: none.
  [[nodiscard]] virtual std::int64_t certificateNotAfter() const { return 0; }
};

}  // namespace l4lb::proto
