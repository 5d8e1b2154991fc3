// libFuzzer target for the pgsql check conversation (proto/pgsql_dialog.h): server bytes fed to
// a PgsqlDialog whole and split across reads. The split must not change anything: the verdict,
// its reason, every byte the dialog sends and its farewell. No reason may carry the password the
// server did not send.
//
// Input: one byte choosing the setup (bit 0: a password, bits 1-2: the role), one byte seeding
// the read sizes, then what the server says. The SCRAM nonce and the password are fixed
// (RFC 7677's), so recorded seeds reach past the SCRAM exchange.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proto/pgsql_dialog.h"

namespace {

using l4lb::proto::CheckStatus;
using l4lb::proto::DialogStep;
using l4lb::proto::PgsqlDialog;
using l4lb::proto::Role;

constexpr std::string_view kPassword = "pencil";

struct Outcome {
  CheckStatus status = CheckStatus::kNeedMore;
  std::string reason;
  std::string sent;
  std::string farewell;
};

PgsqlDialog makeDialog(std::uint8_t setup) {
  const Role roles[] = {Role::kAny, Role::kPrimary, Role::kReplica, Role::kAny};
  return PgsqlDialog("alice", "app", (setup & 1) != 0 ? std::string(kPassword) : std::string(),
                     roles[(setup >> 1) & 3], "rOprNGfwEbeRWgbNEkqO");
}

// Reads of 1 to 16 bytes, sizes from a small linear congruential sequence; seed 0: one read.
Outcome run(std::uint8_t setup, std::uint8_t seed, std::string_view bytes) {
  PgsqlDialog dialog = makeDialog(setup);
  Outcome out;
  (void)dialog.opening();
  std::uint32_t state = seed;
  while (!bytes.empty()) {
    std::size_t n = bytes.size();
    if (seed != 0) {
      state = state * 1103515245U + 12345U;
      n = std::min<std::size_t>(n, 1 + ((state >> 16) & 15));
    }
    DialogStep step = dialog.onReceived(bytes.substr(0, n));
    bytes.remove_prefix(n);
    out.sent += step.send;
    if (step.verdict.status != CheckStatus::kNeedMore) {
      out.status = step.verdict.status;
      out.reason = std::move(step.verdict.reason);
      break;
    }
  }
  out.farewell = dialog.farewell();
  return out;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 2 || size > 8192) return 0;
  const std::uint8_t setup = data[0];
  const std::uint8_t seed = data[1];
  const std::string_view server(reinterpret_cast<const char*>(data) + 2, size - 2);
  const Outcome whole = run(setup, 0, server);
  const Outcome split = run(setup, seed == 0 ? 1 : seed, server);
  if (whole.status != split.status || whole.reason != split.reason || whole.sent != split.sent ||
      whole.farewell != split.farewell) {
    std::abort();
  }
  // Unless the server itself says it (a reason quotes the server's words).
  if (whole.reason.find(kPassword) != std::string::npos &&
      server.find(kPassword) == std::string_view::npos) {
    std::abort();
  }
  if (whole.status == CheckStatus::kNeedMore && !whole.reason.empty()) std::abort();
  return 0;
}
