// libFuzzer target for proto/tls_client_hello.h. Besides "no crash, no sanitizer report":
//   - consumed <= size, and a final answer comes with a reason unless it is kDone;
//   - the answer does not depend on how the stream is cut: the input is fed whole, in three
//     pieces cut where the input chooses, and (when short) one byte at a time, and each gives
//     the same status, server_name, ALPN list, reason and consumed count;
//   - a server_name given out passes the host_name checks again, unchanged (lower-cased).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fuzz_split.h"
#include "proto/tls_client_hello.h"

namespace {

using l4lb::proto::ClientHelloInspector;
using l4lb::proto::ClientHelloResult;
using l4lb::proto::ClientHelloStatus;

void check(bool ok) {
  if (!ok) std::abort();
}

void checkSame(const ClientHelloInspector& inspector, const ClientHelloResult& whole) {
  check(inspector.status() == whole.status);
  check(inspector.consumed() == whole.consumed);
  check(inspector.error() == whole.error);
  check(inspector.info().server_name == whole.info.server_name);
  check(inspector.info().alpn == whole.info.alpn);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  // A small budget as well as the default, so inputs reach the size limits cheaply.
  for (const std::size_t budget : {l4lb::proto::kClientHelloBudget, std::size_t{512}}) {
    const ClientHelloResult whole = l4lb::proto::inspectClientHello(input, budget);
    check(whole.consumed <= size);
    check((whole.status == ClientHelloStatus::kDone ||
           whole.status == ClientHelloStatus::kNeedMore) == whole.error.empty());
    if (whole.status == ClientHelloStatus::kNeedMore) check(whole.consumed == size);
    if (whole.status == ClientHelloStatus::kDone && !whole.info.server_name.empty()) {
      std::string again = whole.info.server_name;
      check(l4lb::proto::checkServerName(again).empty());
      check(again == whole.info.server_name);
    }

    const l4lb::fuzz::SplitPoints cuts = l4lb::fuzz::splitPoints(input);
    ClientHelloInspector pieces(budget);
    (void)pieces.feed(input.substr(0, cuts.first));
    (void)pieces.feed(input.substr(cuts.first, cuts.second - cuts.first));
    (void)pieces.feed(input.substr(cuts.second));
    checkSame(pieces, whole);

    if (size <= 2048) {
      ClientHelloInspector bytewise(budget);
      for (std::size_t i = 0; i < size; ++i) (void)bytewise.feed(input.substr(i, 1));
      checkSame(bytewise, whole);
    }
  }
  return 0;
}
