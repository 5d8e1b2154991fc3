// libFuzzer target for the mysql health check (proto/mysql_dialog.h). The input is everything a
// server says in one conversation (greeting, login replies, result set). It is played to
// dialogs of every depth (greeting only, login, login with a password and a role), once in one
// read and again split into reads of several sizes; each split must end exactly as the single
// read did. Aborts also when a reason quotes the password, or a farewell is not COM_QUIT.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proto/mysql_dialog.h"

namespace {

using l4lb::proto::CheckStatus;
using l4lb::proto::MysqlDialog;
using l4lb::proto::Role;

constexpr std::string_view kPassword = "fuzz-password-never-logged";

struct Setup {
  const char* user;
  std::string_view password;
  Role role;
};

struct Ending {
  CheckStatus status = CheckStatus::kNeedMore;
  std::string reason;
  std::size_t sent = 0;  // bytes the dialog asked to send (RSA output varies, its size does not)
  std::string farewell;
};

Ending play(std::string_view input, const Setup& setup, std::size_t chunk) {
  MysqlDialog dialog(setup.user, std::string(setup.password), setup.role);
  Ending end;
  if (chunk == 0) chunk = input.size() == 0 ? 1 : input.size();
  for (std::size_t at = 0; at < input.size(); at += chunk) {
    l4lb::proto::DialogStep step = dialog.onReceived(input.substr(at, chunk));
    end.sent += step.send.size();
    if (step.verdict.status != CheckStatus::kNeedMore) {
      end.status = step.verdict.status;
      end.reason = std::move(step.verdict.reason);
      break;
    }
  }
  end.farewell = dialog.farewell();
  return end;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 8192) return 0;
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  static const Setup kSetups[] = {{"", "", Role::kAny},
                                  {"l4lb", "", Role::kAny},
                                  {"l4lb", kPassword, Role::kPrimary},
                                  {"l4lb", kPassword, Role::kReplica}};
  for (const Setup& setup : kSetups) {
    const Ending whole = play(input, setup, 0);
    // Unless the server itself said it (the fuzzer does write it into server versions).
    if (whole.reason.find(kPassword) != std::string::npos &&
        input.find(kPassword) == std::string_view::npos) {
      std::abort();
    }
    if (!whole.farewell.empty() && whole.farewell != std::string("\x01\x00\x00\x00\x01", 5)) {
      std::abort();
    }
    for (std::size_t chunk : {1, 2, 7, 64}) {
      const Ending split = play(input, setup, chunk);
      if (split.status != whole.status || split.reason != whole.reason ||
          split.sent != whole.sent || split.farewell != whole.farewell) {
        std::abort();
      }
    }
  }
  return 0;
}
