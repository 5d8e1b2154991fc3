// libFuzzer target for the health-check reply parsers (proto/check_reply.h; mysql has its own
// target, mysql_dialog_fuzz.cc). The health thread re-parses everything received so far after
// every read, so the property that matters is the one a reply split across reads would break:
// no prefix of a reply may reach a verdict other than the full reply's (it may only ask for
// more). Every prefix is fed, as every split would.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "proto/check_reply.h"

namespace {

using l4lb::proto::CheckStatus;
using l4lb::proto::CheckVerdict;

template <typename Parse>
void checkPrefixes(std::string_view reply, Parse parse) {
  const CheckVerdict full = parse(reply);
  for (std::size_t n = 0; n < reply.size(); ++n) {
    const CheckVerdict part = parse(reply.substr(0, n));
    if (part.status != CheckStatus::kNeedMore && part.status != full.status) std::abort();
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > l4lb::proto::kMaxCheckReply + 64) return 0;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  namespace proto = l4lb::proto;
  checkPrefixes(input, [](std::string_view r) { return proto::parseRedisReply(r, false); });
  checkPrefixes(input, [](std::string_view r) { return proto::parseRedisReply(r, true); });
  checkPrefixes(input, [](std::string_view r) {
    return proto::parseRedisReply(r, false, proto::Role::kPrimary);
  });
  checkPrefixes(input, proto::parseMemcachedReply);
  checkPrefixes(input, [](std::string_view r) { return proto::parseHttpReply(r, 200, 399); });
  checkPrefixes(input, [](std::string_view r) { return proto::parseExpectReply(r, "+PONG"); });
  auto unescaped = proto::unescapeCheckString(input);
  if (!unescaped && unescaped.error().message().empty()) std::abort();
  return 0;
}
