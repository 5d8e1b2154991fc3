#include "summary.h"

#include <algorithm>
#include <cmath>
#include <cstring>

namespace l4load {

const char* endKindName(EndKind kind) {
  switch (kind) {
    case EndKind::kFin: return "fin";
    case EndKind::kRst: return "rst";
    case EndKind::kTimeout: return "timeout";
    case EndKind::kErrno: return "errno";
  }
  return "?";
}

const char* failureName(Failure failure) {
  switch (failure) {
    case Failure::kNone: return "none";
    case Failure::kConnect: return "connect";
    case Failure::kReset: return "reset";
    case Failure::kShort: return "short";
    case Failure::kCorrupt: return "corrupt";
    case Failure::kTimeout: return "timeout";
    case Failure::kError: return "error";
  }
  return "?";
}

double percentile(std::vector<double> sample, double p) {
  if (sample.empty()) return 0;
  std::sort(sample.begin(), sample.end());
  const auto rank = static_cast<std::size_t>(std::ceil(p / 100.0 * sample.size()));
  return sample[std::clamp<std::size_t>(rank, 1, sample.size()) - 1];
}

void Summary::add(const ConnRecord& r) {
  ++attempted_;
  if (r.established) ++established_;
  if (r.failure == Failure::kNone) ++ok_;
  bytes_sent_ += r.bytes_sent;
  bytes_received_ += r.bytes_received;
  ++ends_[endKindName(r.end)];
  if (r.failure != Failure::kNone) ++failures_[failureName(r.failure)];
  if (r.error != 0) ++errnos_[strerrorname_np(r.error) ? strerrorname_np(r.error) : "?"];
  if (r.established) connect_ms_.push_back(r.connect_ms);
  if (r.failure == Failure::kNone) total_ms_.push_back(r.total_ms);
  if (r.failure != Failure::kNone && failure_samples_.size() < kFailureSamples) {
    failure_samples_.push_back({{"failure", failureName(r.failure)},
                                {"end", endKindName(r.end)},
                                {"errno", r.error ? strerrorname_np(r.error) : ""},
                                {"sent", r.bytes_sent},
                                {"received", r.bytes_received},
                                {"at_ms", r.ended_at_ms}});
  }
}

nlohmann::json Summary::toJson() const {
  auto latency = [](const std::vector<double>& s) {
    return nlohmann::json{
        {"p50", percentile(s, 50)}, {"p99", percentile(s, 99)}, {"max", percentile(s, 100)}};
  };
  nlohmann::json failures = nlohmann::json::object();
  for (const auto& [k, v] : failures_) failures[k] = v;
  nlohmann::json ends = nlohmann::json::object();
  for (const auto& [k, v] : ends_) ends[k] = v;
  nlohmann::json errnos = nlohmann::json::object();
  for (const auto& [k, v] : errnos_) errnos[k] = v;
  return {{"attempted", attempted_},
          {"established", established_},
          {"ok", ok_},
          {"failed", failed()},
          {"corrupt", failures_.contains("corrupt") ? failures_.at("corrupt") : 0},
          {"bytes_sent", bytes_sent_},
          {"bytes_received", bytes_received_},
          {"ends", ends},
          {"failures", failures},
          {"errnos", errnos},
          {"connect_ms", latency(connect_ms_)},
          {"total_ms", latency(total_ms_)},
          {"failure_samples", failure_samples_}};
}

}  // namespace l4load
