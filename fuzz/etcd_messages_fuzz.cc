// libFuzzer target for what etcd's JSON gateway sends discovery (discover/etcd_messages.h).
// Input: one range reply, one watch-stream line, or one key's value (all three are tried).
// Properties, beyond not crashing:
// - every failure says why;
// - a parsed message's keys and values re-encode (base64) and decode back to themselves;
// - a value parsed as a backend has a weight within 1..kMaxWeight and the source's scheme.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "config/limits.h"
#include "discover/etcd_messages.h"
#include "fuzz_endpoint_filter.h"
#include "proto/base64.h"

namespace {

using namespace l4lb;

void roundTrips(const std::string& bytes) {
  auto back = proto::base64Decode(proto::base64Encode(bytes), discover::kMaxEtcdBase64Text);
  if (!back || *back != bytes) std::abort();
}

// The fuzzer never resolves names: only numeric addresses parse.
base::Result<net::Endpoint> numericOnly(std::string_view url) {
  if (fuzz::wouldResolve(url)) return base::failure("a host name (not resolved here)");
  return net::parseEndpoint(url);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  if (auto range = discover::parseRangeReply(text)) {
    for (const auto& kv : range->kvs) {
      roundTrips(kv.key);
      roundTrips(kv.value);
    }
  } else if (range.error().message().empty()) {
    std::abort();
  }
  if (auto watch = discover::parseWatchMessage(text)) {
    for (const auto& event : watch->events) roundTrips(event.kv.key);
  } else if (watch.error().message().empty()) {
    std::abort();
  }
  for (bool datagram : {false, true}) {
    auto backend = discover::parseEtcdValue(text, datagram, numericOnly);
    if (!backend) {
      if (backend.error().message().empty()) std::abort();
      continue;
    }
    if (backend->weight < 1 || backend->weight > config::kMaxWeight) std::abort();
    if (backend->address.isStream() == datagram) std::abort();
  }
  if (auto decoded = proto::base64Decode(text, discover::kMaxEtcdBase64Text)) {
    roundTrips(*decoded);
  }
  return 0;
}
