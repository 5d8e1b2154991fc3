#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "admin/admin_state.h"
#include "config/config.h"
#include "control/announce_state.h"
#include "control/health_snapshot.h"
#include "packet/packet_stats.h"
#include "stats/metrics_sample.h"

namespace l4lb::admin {

// The workers' counters, summed (stats/metrics_sample.h).
using stats::BackendNumbers;
using stats::DatagramNumbers;
using stats::ListenerNumbers;
using stats::MetricsSample;

// What the admin API knows of one backend of the config it serves.
struct BackendView {
  control::BackendState health = control::BackendState::kUnknown;
  bool checked = false;  // its pool has active checks or an agent
  control::AdminState admin = control::AdminState::kEnabled;
  std::uint32_t weight = 0;                // the config's, or the operator's
  std::int64_t certificate_not_after = 0;  // https checks: the last verified certificate's end
};

// Everything one scrape writes.
struct MetricsInput {
  const config::Config* config = nullptr;
  std::string version;
  unsigned workers = 0;
  double start_time_seconds = 0;  // Unix time
  std::uint64_t reloads_ok = 0;
  std::uint64_t reloads_failed = 0;
  std::vector<std::vector<BackendView>> backends;  // [pool][backend] of `config`
  // [pool] of `config`: the digest of the Maglev table in use (maglevDigestText); empty for
  // pools of other algorithms.
  std::vector<std::string> maglev_digests;
  MetricsSample sample;
  std::vector<control::AnnounceView> announce;  // each listener with announce = true
};

// The text GET /metrics answers (README.md, "Admin API", lists the families).
[[nodiscard]] std::string renderMetrics(const MetricsInput& input);
// The l4lb_packet_* families (admin/packet_api.cc), appended to it when the packet path runs.
[[nodiscard]] std::string renderPacketMetrics(const packet::PacketNumbers& numbers);

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace l4lb::admin
