// libFuzzer target for the tls check (proto/tls_check_dialog.h). The input is a server's reply.
// Properties, beyond not crashing:
// - no prefix of a reply reaches a verdict other than the whole reply's (it may only ask for
//   more), so a reply split across reads is judged like one that came at once;
// - a TlsCheckDialog fed the reply in pieces (cut where the input's first bytes say) decides at
//   the first piece where the whole-so-far parse decides, and the same way;
// - the ClientHello built with a server name taken from the input is one well-formed record,
//   and read back as a reply it is down (an echo server is not a TLS server).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "proto/tls_check_dialog.h"

namespace {

using l4lb::proto::CheckStatus;
using l4lb::proto::CheckVerdict;

void checkPrefixes(std::string_view reply) {
  const CheckVerdict full = l4lb::proto::parseTlsServerHello(reply);
  for (std::size_t n = 0; n < reply.size(); ++n) {
    const CheckVerdict part = l4lb::proto::parseTlsServerHello(reply.substr(0, n));
    if (part.status != CheckStatus::kNeedMore && part.status != full.status) std::abort();
  }
}

void checkDialogInPieces(std::string_view reply, std::uint8_t cut) {
  l4lb::proto::TlsCheckDialog dialog("", cut);
  const std::size_t piece = 1 + cut % 7;
  for (std::size_t at = 0; at < reply.size(); at += piece) {
    const auto step = dialog.onReceived(reply.substr(at, piece));
    const std::size_t end = at + piece < reply.size() ? at + piece : reply.size();
    const CheckVerdict whole = l4lb::proto::parseTlsServerHello(reply.substr(0, end));
    if (step.verdict.status != whole.status || step.verdict.reason != whole.reason) std::abort();
    if (!step.send.empty()) std::abort();
    if (step.verdict.status != CheckStatus::kNeedMore) return;
  }
}

void checkClientHello(std::string_view sni, std::uint64_t seed) {
  const std::string hello = l4lb::proto::tlsClientHello(sni, seed);
  if (hello.size() < 9 || hello[0] != '\x16') std::abort();
  const std::size_t record =
      (std::size_t{static_cast<std::uint8_t>(hello[3])} << 8) | static_cast<std::uint8_t>(hello[4]);
  const std::size_t message = (std::size_t{static_cast<std::uint8_t>(hello[6])} << 16) |
                              (std::size_t{static_cast<std::uint8_t>(hello[7])} << 8) |
                              static_cast<std::uint8_t>(hello[8]);
  if (record + 5 != hello.size() || message + 4 != record) std::abort();
  if (l4lb::proto::parseTlsServerHello(hello).status != CheckStatus::kDown) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 20000) return 0;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  checkPrefixes(input);
  checkDialogInPieces(input, size > 0 ? data[0] : 0);
  // Server names are host names the config checked: at most 253 bytes.
  checkClientHello(input.substr(0, 253), size);
  return 0;
}
