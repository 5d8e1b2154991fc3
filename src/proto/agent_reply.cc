#include "proto/agent_reply.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include "proto/printable.h"

namespace l4lb::proto {

namespace {

bool isSeparator(char c) { return c == ' ' || c == '\t' || c == ','; }

std::string lower(std::string_view word) {
  std::string out(word);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trimSpaces(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) text.remove_prefix(1);
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) text.remove_suffix(1);
  return text;
}

}  // namespace

std::string_view agentOperationalName(AgentOperational operational) {
  switch (operational) {
    case AgentOperational::kUp: return "up";
    case AgentOperational::kDown: return "down";
    case AgentOperational::kFail: return "fail";
    case AgentOperational::kStopped: return "stopped";
  }
  return "down";
}

std::optional<std::string_view> agentLine(std::string_view received, bool eof) {
  const std::size_t end = received.find('\n');
  if (end == std::string_view::npos) {
    if (!eof) return std::nullopt;
    return received;
  }
  std::string_view line = received.substr(0, end);
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}

base::Result<AgentReport> parseAgentReply(std::string_view line) {
  AgentReport report;
  bool any_word = false;
  std::size_t at = 0;
  while (at < line.size()) {
    while (at < line.size() && isSeparator(line[at])) ++at;
    if (at >= line.size()) break;
    std::size_t end = at;
    while (end < line.size() && !isSeparator(line[end]) && line[end] != '#') ++end;
    const std::string_view word = line.substr(at, end - at);
    any_word = any_word || !word.empty();
    const std::string name = lower(word);
    if (!word.empty() && word.back() == '%') {
      std::uint32_t percent = 0;
      const std::string_view digits = word.substr(0, word.size() - 1);
      auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), percent);
      if (digits.empty() || ec != std::errc() || ptr != digits.data() + digits.size() ||
          percent > kMaxAgentPercent) {
        return base::failure(fmt::format("invalid weight \"{}\": expected 0% to {}%",
                                         printable(word, 40), kMaxAgentPercent));
      }
      report.weight_percent = percent;
    } else if (name == "ready") {
      report.admin = AgentAdmin::kReady;
    } else if (name == "drain") {
      report.admin = AgentAdmin::kDrain;
    } else if (name == "maint") {
      report.admin = AgentAdmin::kMaint;
    } else if (name == "up") {
      report.operational = AgentOperational::kUp;
    } else if (name == "down") {
      report.operational = AgentOperational::kDown;
    } else if (name == "fail") {
      report.operational = AgentOperational::kFail;
    } else if (name == "stopped") {
      report.operational = AgentOperational::kStopped;
    } else if (!word.empty()) {
      report.ignored.push_back(printable(word, 40));
    }
    if (end < line.size() && line[end] == '#') {
      // A description runs to the end of the line.
      report.description = printable(trimSpaces(line.substr(end + 1)), 120);
      any_word = true;
      break;
    }
    at = end;
  }
  if (!any_word) return base::failure("an empty line: expected words like \"75%\" or \"drain\"");
  return report;
}

std::string describeAgentReport(const AgentReport& report) {
  std::string out;
  auto add = [&out](std::string_view part) {
    if (!out.empty()) out += ", ";
    out += part;
  };
  if (report.weight_percent) add(fmt::format("weight {}%", *report.weight_percent));
  if (report.admin) {
    switch (*report.admin) {
      case AgentAdmin::kReady: add("ready"); break;
      case AgentAdmin::kDrain: add("drain"); break;
      case AgentAdmin::kMaint: add("maint"); break;
    }
  }
  if (report.operational) add(agentOperationalName(*report.operational));
  if (!report.description.empty()) add(fmt::format("\"{}\"", report.description));
  for (const std::string& word : report.ignored) add(fmt::format("ignored \"{}\"", word));
  if (out.empty()) out = "nothing";
  return out;
}

}  // namespace l4lb::proto
