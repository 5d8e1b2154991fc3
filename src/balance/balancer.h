#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "balance/backend_counters.h"

namespace l4lb::balance {

enum class Algorithm : std::uint8_t { kRoundRobin, kLeastConn, kRandomTwo, kMaglev, kFirst };

[[nodiscard]] std::optional<Algorithm> parseAlgorithm(std::string_view name);
[[nodiscard]] std::string_view algorithmName(Algorithm algorithm);

inline constexpr std::uint32_t kNoBackend = UINT32_MAX;

// A backend as a balancer sees it. `name` is its stable identity: Maglev hashes it, so two l4lb
// instances with the same backends agree whatever order the list is written in.
struct BackendSlot {
  std::string name;
  std::uint32_t weight = 1;
  bool backup = false;  // picked only while no primary (non-backup) backend is up
  // Where the name leads (its endpoint URL). No balancer picks by it: the Maglev table's digest
  // includes it, so instances that give one name two addresses do not look alike.
  std::string address = {};
};

struct PickRequest {
  std::uint64_t flow_hash = 0;             // hash of the client key (maglev); see flow_hash.h
  std::span<const std::uint32_t> exclude;  // backends this connection already tried and failed
};

// One worker's balancing state for one pool. Never shared between threads: each worker owns its
// own instance, made from the pool's immutable BalancerPlan.
class Balancer {
 public:
  explicit Balancer(std::span<const BackendSlot> backends);
  virtual ~Balancer() = default;
  Balancer(const Balancer&) = delete;
  Balancer& operator=(const Balancer&) = delete;

  // Index of the chosen backend, or kNoBackend when every backend that is up is excluded.
  [[nodiscard]] virtual std::uint32_t pick(const PickRequest& request) = 0;

  // Feedback from the data path: a connection to `backend` started or ended. least-conn and
  // random-two balance on these counts. Report a close to the instance that saw the open (a new
  // instance after a reload starts at zero); a stray close is ignored rather than wrapping.
  void onConnectionOpened(std::uint32_t backend) {
    ++active_[backend];
    counters_[backend]->active.add();
    counters_[backend]->total.add();
  }
  void onConnectionClosed(std::uint32_t backend) {
    if (active_[backend] == 0) return;
    --active_[backend];
    counters_[backend]->active.sub();
  }
  // A datagram flow a reload moved here from the instance before: open in this instance, but
  // not sent to the backend anew (the counters, shared, have it in `total` already).
  void onConnectionCarried(std::uint32_t backend) {
    ++active_[backend];
    counters_[backend]->active.add();
  }
  // A connect to `backend` failed; or it was connected, then reset (or ended before answering).
  void onConnectFailure(std::uint32_t backend) { counters_[backend]->connect_failures.add(); }
  void onReset(std::uint32_t backend) { counters_[backend]->resets.add(); }

  // The counters of `backend`, for the admin thread to read (relaxed atomics) and for the data
  // path to add to (bytes, connect times). Written by this instance's worker alone.
  [[nodiscard]] const BackendCounters& counters(std::uint32_t backend) const {
    return *counters_[backend];
  }
  [[nodiscard]] BackendCounters& counters(std::uint32_t backend) { return *counters_[backend]; }
  // A reload's new instance takes over the counters of the same backend in the one before (on
  // the same worker), so they stay monotonic; both instances then add to them. Call before any
  // connection is opened through this instance.
  [[nodiscard]] std::shared_ptr<BackendCounters> sharedCounters(std::uint32_t backend) const {
    return counters_[backend];
  }
  void carryCounters(std::uint32_t backend, std::shared_ptr<BackendCounters> counters) {
    counters_[backend] = std::move(counters);
  }

  // Health feeds in here: a backend that is down is never picked. Backups are picked only while
  // no primary is up.
  void setUp(std::uint32_t backend, bool up);
  // The weight picks use (slow start ramps it up after a backend comes up). Maglev's table is
  // fixed by the plan, so there only 0 versus non-zero matters.
  void setWeight(std::uint32_t backend, std::uint32_t weight) {
    weights_[backend] = weight;
    publishWeight(backend);
  }
  // Any thread (GET /metrics): the weight this instance balances new connections on now, 0
  // while the backend is down, ejected, draining or disabled. In the plan's units.
  [[nodiscard]] std::uint32_t effectiveWeight(std::uint32_t backend) const {
    return effective_weights_[backend].load(std::memory_order_relaxed);
  }
  [[nodiscard]] std::uint32_t weight(std::uint32_t backend) const { return weights_[backend]; }
  [[nodiscard]] bool isBackup(std::uint32_t backend) const { return backup_[backend] != 0; }
  [[nodiscard]] std::uint32_t primariesUp() const { return primaries_up_; }

  [[nodiscard]] std::uint32_t size() const { return static_cast<std::uint32_t>(weights_.size()); }
  [[nodiscard]] std::uint32_t active(std::uint32_t backend) const { return active_[backend]; }
  [[nodiscard]] bool isUp(std::uint32_t backend) const { return up_[backend] != 0; }

 protected:
  // Off the data path (health and operator changes): the copy other threads may read.
  void publishWeight(std::uint32_t backend) {
    effective_weights_[backend].store(up_[backend] != 0 ? weights_[backend] : 0,
                                      std::memory_order_relaxed);
  }
  // Up, weight > 0 and not in `exclude`.
  [[nodiscard]] bool eligible(std::uint32_t backend, std::span<const std::uint32_t> exclude) const;

  std::vector<std::uint32_t> weights_;
  std::vector<std::uint32_t> active_;
  std::vector<std::uint8_t> up_;
  std::vector<std::uint8_t> backup_;
  std::uint32_t primaries_up_ = 0;
  // Behind pointers: atomics cannot move, and a reload's next instance may share them.
  std::vector<std::shared_ptr<BackendCounters>> counters_;
  std::unique_ptr<std::atomic<std::uint32_t>[]> effective_weights_;
};

// Everything about a pool's balancing that is fixed by the config (the Maglev table, weights):
// built once per config, shared read-only by the workers, each of which instantiates its own
// Balancer from it.
class BalancerPlan {
 public:
  virtual ~BalancerPlan() = default;
  [[nodiscard]] virtual std::unique_ptr<Balancer> instantiate(std::uint64_t seed) const = 0;
};

// The Maglev paper's smaller table size: prime, and M >> N keeps both the imbalance between
// backends (at most one slot for equal weights) and the disruption on a pool change small.
inline constexpr std::uint32_t kDefaultMaglevTableSize = 65537;

// maglev_table_size must be prime (the config loader checks; isPrime in maglev_table.h); a size
// that is not is rounded up to the next prime rather than risk a table that cannot fill.
// Ignored by other algorithms.
[[nodiscard]] std::shared_ptr<const BalancerPlan> makeBalancerPlan(
    Algorithm algorithm, std::vector<BackendSlot> backends, std::uint32_t maglev_table_size);

}  // namespace l4lb::balance
