#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.h"

// The agent check (HAProxy's agent-check): a small server beside each backend answers every
// connection with one line of words that set the backend's weight or its operator state. Pure:
// bytes in, a report out.
namespace l4lb::proto {

// The operator state an agent asks for: "ready" (enabled again), "drain" (no new connections,
// open ones go on), "maint" (disabled).
enum class AgentAdmin : std::uint8_t { kReady, kDrain, kMaint };
// The operating state an agent reports: "up", or one of the three that take the backend down,
// kept apart because the word is shown to the operator (HAProxy: the service may be stopped on
// purpose, up but failing its own tests, or down).
enum class AgentOperational : std::uint8_t { kUp, kDown, kFail, kStopped };

// "up", "down", "fail", "stopped": the agent's own word.
[[nodiscard]] std::string_view agentOperationalName(AgentOperational operational);

// Percentages above this are refused (HAProxy caps weights at 256 of 1; l4lb's at 10000).
inline constexpr std::uint32_t kMaxAgentPercent = 1000;
// Agents answer one short line; more than this before a line end is not an agent.
inline constexpr std::size_t kMaxAgentReply = 1024;

// What one answer said. Words it did not carry change nothing (HAProxy's rule).
struct AgentReport {
  std::optional<std::uint32_t> weight_percent;  // "75%": of the weight in the config
  std::optional<AgentAdmin> admin;
  std::optional<AgentOperational> operational;
  std::string description;           // the text after '#' (with down, fail, stopped)
  std::vector<std::string> ignored;  // words not understood (maxconn:N, anything else)

  [[nodiscard]] bool empty() const { return !weight_percent && !admin && !operational; }
};

// The line in `received`: up to the first '\n' (a '\r' before it dropped), or, at `eof`,
// everything. nullopt: no line end yet (and not at EOF), so read on.
[[nodiscard]] std::optional<std::string_view> agentLine(std::string_view received, bool eof);

// One line of words separated by spaces, tabs or commas, in any order, case-insensitive:
// "75%", "ready", "drain", "maint", "up", "down", "fail", "stopped" (the last three may be
// followed by "#text": a description, which runs to the end of the line). A later word of the
// same kind wins. Fails only on a line with no word at all, or a percentage out of range or
// malformed ("x%", "-5%").
[[nodiscard]] base::Result<AgentReport> parseAgentReply(std::string_view line);

// The report in words, for a log line: "weight 75%, drain".
[[nodiscard]] std::string describeAgentReport(const AgentReport& report);

}  // namespace l4lb::proto
