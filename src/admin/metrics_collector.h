#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "admin/admin_state.h"
#include "balance/backend_counters.h"
#include "config/config.h"
#include "control/health_snapshot.h"

namespace l4lb::admin {

// The workers' counters for GET /metrics, summed over the workers at scrape time (relaxed
// atomics: no lock on the data path). Keyed by name, not index: a worker may still serve the
// config before a reload.
struct ListenerNumbers {
  std::uint64_t accepted = 0;
  std::uint64_t active = 0;
  std::uint64_t accept_limited = 0;
  std::uint64_t refused_acl = 0;
  std::uint64_t refused_source_connections = 0;
  std::uint64_t refused_source_rate = 0;
  std::uint64_t refused_proxy_untrusted = 0;
  std::uint64_t bytes_from_clients = 0;
  std::uint64_t bytes_from_backends = 0;
  std::vector<std::uint64_t> ended;  // by MetricsSample::end_reasons
};

struct BackendNumbers {
  std::uint64_t active = 0;
  std::uint64_t total = 0;
  std::uint64_t failures = 0;
  std::uint64_t bytes_to_backend = 0;
  std::uint64_t bytes_from_backend = 0;
  std::array<std::uint64_t, balance::kConnectBucketsUs.size() + 1> connect_buckets{};
  std::uint64_t connect_sum_us = 0;
  // The weights the workers balance on now (config units), summed, and how many were added.
  double effective_weight_sum = 0;
  unsigned effective_weights = 0;

  // Adds a worker's counters.
  void add(const balance::BackendCounters& counters);
};

// The datagram counters are kept per worker, not per listener: these are their sums.
struct DatagramNumbers {
  std::uint64_t datagrams_in = 0;
  std::uint64_t datagrams_sent = 0;
  std::uint64_t replies_in = 0;
  std::uint64_t replies_sent = 0;
  std::uint64_t bytes_in = 0;
  std::uint64_t bytes_out = 0;
  std::uint64_t flows_created = 0;
  std::uint64_t flows_active = 0;
  std::uint64_t flows_moved = 0;
  std::uint64_t backend_unreachable = 0;
  std::uint64_t receive_errors = 0;
  // By reason, as named in README.md's metrics list (see kDatagramDropReasons).
  std::array<std::uint64_t, 10> dropped{};
  std::vector<std::uint64_t> ended;  // by MetricsSample::flow_ends
};

// The reason= values of l4lb_datagrams_dropped_total, in DatagramNumbers::dropped's order.
inline constexpr std::array<std::string_view, 10> kDatagramDropReasons = {
    "truncated",        "no-backend", "source-limit", "acl",       "proxy-untrusted",
    "bad-proxy-header", "send-error", "no-return",    "too-large", "queue-full"};

struct MetricsSample {
  // The names of the reasons connections and flows end for (proxy/end_reason.h, flow_log.h),
  // which the workers fill in: admin/ does not reach into proxy/.
  std::vector<std::string_view> end_reasons;
  std::vector<std::string_view> flow_ends;
  std::map<std::string, ListenerNumbers, std::less<>> listeners;
  std::map<std::pair<std::string, std::string>, BackendNumbers> backends;  // (pool, backend)
  DatagramNumbers datagrams;

  [[nodiscard]] ListenerNumbers& listener(std::string_view name);
  [[nodiscard]] BackendNumbers& backend(std::string_view pool, std::string_view name);
};

// What the admin API knows of one backend of the config it serves.
struct BackendView {
  control::BackendState health = control::BackendState::kUnknown;
  bool checked = false;  // its pool has active checks
  control::AdminState admin = control::AdminState::kEnabled;
  std::uint32_t weight = 0;  // the config's, or the operator's
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
  MetricsSample sample;
};

// The text GET /metrics answers (README.md, "Admin API", lists the families).
[[nodiscard]] std::string renderMetrics(const MetricsInput& input);

inline constexpr std::string_view kMetricsContentType = "text/plain; version=0.0.4; charset=utf-8";

}  // namespace l4lb::admin
