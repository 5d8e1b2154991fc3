// libFuzzer target for the agent check's reply (proto/agent_reply.h). Input: the bytes an agent
// sent. Properties, beyond not crashing:
// - agentLine never returns more than it was given, and never a line holding '\n';
// - a parsed report's weight is within 0..kMaxAgentPercent, its words are bounded, and it can
//   be described; parsing the same line twice gives the same report.

#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string_view>

#include "proto/agent_reply.h"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace l4lb::proto;
  const std::string_view received(reinterpret_cast<const char*>(data), size);
  for (bool eof : {false, true}) {
    auto line = agentLine(received, eof);
    if (!line) {
      if (eof) std::abort();
      continue;
    }
    if (line->size() > received.size() || line->find('\n') != std::string_view::npos) {
      std::abort();
    }
    auto report = parseAgentReply(*line);
    auto again = parseAgentReply(*line);
    if (static_cast<bool>(report) != static_cast<bool>(again)) std::abort();
    if (!report) continue;
    if (report.value().weight_percent && *report.value().weight_percent > kMaxAgentPercent) {
      std::abort();
    }
    if (report.value().ignored.size() > line->size()) std::abort();
    if (report.value().admin != again.value().admin ||
        report.value().operational != again.value().operational) {
      std::abort();
    }
    if (describeAgentReport(report.value()).empty()) std::abort();
  }
  return 0;
}
