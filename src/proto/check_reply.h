#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "base/result.h"

// Health-check protocols: the request each check sends and a pure, incremental parser of the
// reply. A parser is called with every byte received so far and answers up, down (with the
// reason to log) or "need more". A reply cut short by EOF is the caller's to report.
namespace l4lb::proto {

enum class CheckStatus : std::uint8_t { kNeedMore, kUp, kDown };

// Role-aware checks: which role a backend must have to count as up.
enum class Role : std::uint8_t { kAny, kPrimary, kReplica };

// "primary", "replica" or "any", as the config spells the role and the log quotes it.
[[nodiscard]] inline std::string_view roleName(Role role) {
  switch (role) {
    case Role::kPrimary: return "primary";
    case Role::kReplica: return "replica";
    case Role::kAny: break;
  }
  return "any";
}

struct CheckVerdict {
  CheckStatus status = CheckStatus::kNeedMore;
  std::string reason;  // what the server said, for the state-change log line

  static CheckVerdict needMore() { return {}; }
  static CheckVerdict up(std::string reason) { return {CheckStatus::kUp, std::move(reason)}; }
  static CheckVerdict down(std::string reason) { return {CheckStatus::kDown, std::move(reason)}; }
};

// Replies longer than this are not waited for: every check decides within its first bytes.
inline constexpr std::size_t kMaxCheckReply = 4096;

// \r \n \t \\ \0 and \xNN in send/expect strings; an error names a malformed escape.
[[nodiscard]] base::Result<std::string> unescapeCheckString(std::string_view text);

// send-expect: the reply must start with `expect`.
[[nodiscard]] CheckVerdict parseExpectReply(std::string_view reply, std::string_view expect);

// redis: PING (after AUTH when a password is set), answered +PONG. -LOADING, -MASTERDOWN and
// every other error are down. With a role, ROLE follows PING, and its first element (master or
// slave) must match.
[[nodiscard]] std::string redisRequest(const std::string& password, Role role = Role::kAny);
[[nodiscard]] CheckVerdict parseRedisReply(std::string_view reply, bool with_auth,
                                           Role role = Role::kAny);

// memcached: "version" answered "VERSION x.y.z".
[[nodiscard]] std::string memcachedRequest();
[[nodiscard]] CheckVerdict parseMemcachedReply(std::string_view reply);

// http: "GET path HTTP/1.0" with a Host header; up when the status is in [min_status,
// max_status].
[[nodiscard]] std::string httpRequest(std::string_view path, std::string_view host);
[[nodiscard]] CheckVerdict parseHttpReply(std::string_view reply, int min_status, int max_status);

// mysql: see proto/mysql_dialog.h.

}  // namespace l4lb::proto
