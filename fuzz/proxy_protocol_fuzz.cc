// libFuzzer target for proto/proxy_protocol.h. Besides "no crash, no sanitizer report":
//   - consumed <= size; v1 headers are at most 107 bytes, v2 headers exactly 16 + len;
//   - the answer on a prefix (as a read cut short would give) is "need more" or the same
//     answer as on the whole input, with the same length: the input is also fed split at
//     points the input chooses, and at the 16- and 107-byte boundaries;
//   - a parsed header re-encodes (v1 and v2, and LOCAL for one without addresses) to bytes
//     that parse back to the same addresses and TLVs (Envoy CVE-2024-23327: accept -> re-emit).

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <string>
#include <string_view>

#include "fuzz_split.h"
#include "proto/proxy_protocol.h"

namespace {

using l4lb::proto::ProxyAddress;
using l4lb::proto::ProxyHeader;
using l4lb::proto::ProxyParseResult;
using l4lb::proto::ProxyParseStatus;
using l4lb::proto::ProxyTransport;
using l4lb::proto::ProxyVersion;

void check(bool ok) {
  if (!ok) std::abort();
}

bool sameAddress(const ProxyAddress& a, const ProxyAddress& b) {
  return a.len == b.len && std::memcmp(&a.addr, &b.addr, a.len) == 0;
}

void checkPrefix(std::string_view input, std::size_t cut, const ProxyParseResult& whole) {
  if (cut > input.size()) return;
  const ProxyParseResult part = l4lb::proto::parseProxyHeader(input.substr(0, cut));
  if (part.status == ProxyParseStatus::kNeedMore) return;
  check(part.status == whole.status);
  check(part.consumed == whole.consumed);
  check(part.error == whole.error);
}

ProxyHeader reparse(const std::string& bytes) {
  const ProxyParseResult again = l4lb::proto::parseProxyHeader(bytes);
  check(again.status == ProxyParseStatus::kDone);
  check(again.consumed == bytes.size());
  return again.header;
}

void checkReencode(const ProxyHeader& header) {
  if (!header.hasAddresses()) {
    const ProxyHeader local = reparse(l4lb::proto::encodeProxyV2Local(header.tlvs));
    check(local.command == l4lb::proto::ProxyCommand::kLocal);
    return;
  }
  const ProxyTransport transport =
      header.transport == ProxyTransport::kUnspec ? ProxyTransport::kStream : header.transport;
  const ProxyHeader v2 = reparse(l4lb::proto::encodeProxyV2(
      header.source.sockaddrPtr(), header.source.len, header.destination.sockaddrPtr(),
      header.destination.len, transport, header.tlvs));
  check(sameAddress(v2.source, header.source));
  check(sameAddress(v2.destination, header.destination));
  check(v2.transport == transport);
  check(v2.tlvs.size() == header.tlvs.size());
  if (header.source.family() != AF_UNIX) {
    const ProxyHeader v1 = reparse(
        l4lb::proto::encodeProxyV1(header.source.sockaddrPtr(), header.destination.sockaddrPtr()));
    check(sameAddress(v1.source, header.source));
    check(sameAddress(v1.destination, header.destination));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view input(reinterpret_cast<const char*>(data), size);
  const ProxyParseResult whole = l4lb::proto::parseProxyHeader(input);
  check(whole.consumed <= size);
  switch (whole.status) {
    case ProxyParseStatus::kNeedMore: check(whole.consumed == 0); break;
    case ProxyParseStatus::kNotProxy:
    case ProxyParseStatus::kError: check(!whole.error.empty()); break;
    case ProxyParseStatus::kDone:
      check(whole.consumed > 0);
      if (whole.header.version == ProxyVersion::kV1) {
        check(whole.consumed <= l4lb::proto::kProxyV1MaxBytes);
      } else {
        check(whole.consumed == 16 + (std::size_t{data[14]} << 8 | data[15]));
      }
      check(whole.header.source.len == 0 || whole.header.destination.len != 0);
      checkReencode(whole.header);
      break;
  }
  if (whole.status == ProxyParseStatus::kNotProxy) check(size > 0);
  const l4lb::fuzz::SplitPoints cuts = l4lb::fuzz::splitPoints(input);
  checkPrefix(input, cuts.first, whole);
  checkPrefix(input, cuts.second, whole);
  checkPrefix(input, l4lb::proto::kProxyDetectBytes, whole);
  checkPrefix(input, l4lb::proto::kProxyV1MaxBytes, whole);
  if (size >= l4lb::proto::kProxyDetectBytes) {
    // 16 bytes always tell a PROXY header from anything else.
    const ProxyParseResult start =
        l4lb::proto::parseProxyHeader(input.substr(0, l4lb::proto::kProxyDetectBytes));
    check((start.status == ProxyParseStatus::kNotProxy) ==
          (whole.status == ProxyParseStatus::kNotProxy));
  }
  return 0;
}
