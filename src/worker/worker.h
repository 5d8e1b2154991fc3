#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include "admin/admin_state.h"
#include "base/result.h"
#include "health/health_state.h"
#include "io/event_loop.h"
#include "proxy/access_log.h"
#include "proxy/buffer_pool.h"
#include "proxy/counter.h"
#include "proxy/datagram_buffers.h"
#include "proxy/datagram_listener.h"
#include "proxy/datagram_stats.h"
#include "proxy/session.h"
#include "proxy/session_list.h"
#include "proxy/snapshot.h"
#include "proxy/source_limiter.h"
#include "worker/acceptor.h"
#include "worker/connection_limits.h"

namespace l4lb::worker {

// One event-loop thread with its own listening sockets, sessions, datagram flows, buffer pool,
// balancers and statistics. Nothing here is touched by another thread except through
// loop().post().
//
// Datagram listeners: each worker binds its own udp:// socket (SO_REUSEPORT: the kernel keeps a
// client's datagrams on one worker, so its flow lives in one table). unixgram:// and mq://
// cannot be spread that way, so worker 0 alone serves them.
class Worker final : public proxy::SessionOwner {
 public:
  // shared_listen_fds[i] is the socket all workers share for listener i (Unix listeners), or -1
  // when each worker binds its own (TCP, SO_REUSEPORT).
  Worker(std::uint32_t id, std::shared_ptr<const proxy::Snapshot> snapshot,
         const proxy::AccessLog& access_log, const std::vector<int>& shared_listen_fds);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Creates the loop and binds this worker's listening sockets, before its thread starts, so a
  // bind error stops l4lb at startup. The error names the listener.
  [[nodiscard]] bool init(std::string& error);

  void start();
  // Thread-safe. Stop accepting; the loop ends when the last session has ended.
  void drain();
  // Thread-safe. End every session now (the shutdown grace is over).
  void abortAll();
  void join();
  [[nodiscard]] bool finished() const { return finished_.load(std::memory_order_acquire); }

  // Called by acceptors on the worker's thread.
  void onAccepted(std::uint32_t listener_index, base::Fd client,
                  const proxy::ClientAddress& address);
  void onSessionEnded(proxy::Session* session) override;
  void onSessionQueued() override;
  proxy::PoolState& poolAt(std::uint32_t index) override { return pools_[index]; }
  bool admitClient(proxy::Session& session) override;

  // On the worker's thread (posted by the health thread): the active checks' latest states.
  void applyHealth(std::shared_ptr<const health::HealthSnapshot> states);

  // On the worker's thread (posted by the admin API): the operator's states and weights.
  void applyAdmin(std::shared_ptr<const admin::AdminSnapshot> snapshot);

  // Any thread: one backend's counters on this worker (relaxed atomics). Valid from init() on.
  [[nodiscard]] const balance::BackendCounters& backendCounters(std::uint32_t pool,
                                                                std::uint32_t backend) const {
    return pools_[pool].balancer->counters(backend);
  }

  // Before init(): the process-wide connection limits (none when null).
  void setConnectionLimits(ConnectionLimits* limits) { connection_limits_ = limits; }
  // Before init(): per pool, the backends' max_connections slots shared by all workers (null
  // entries for pools without limits).
  void setBackendSlots(const std::vector<std::unique_ptr<proxy::BackendSlots>>* slots) {
    backend_slots_ = slots;
  }
  // Before init(): how many workers share each SO_REUSEPORT listener.
  void setWorkerCount(std::uint32_t count) { worker_count_ = count; }
  [[nodiscard]] ConnectionLimits* connectionLimits() const { return connection_limits_; }

  [[nodiscard]] io::EventLoop& loop() { return *loop_; }
  [[nodiscard]] proxy::WorkerStats& stats() { return stats_; }
  [[nodiscard]] const proxy::DatagramStats& datagramStats() const { return datagram_stats_; }
  [[nodiscard]] std::uint32_t id() const { return id_; }
  [[nodiscard]] std::string_view listenerName(std::uint32_t index) const;

 private:
  void run();
  void stopIfDrained();
  // Closes a connection refused by the listener's rules (allow/deny, per-source limits).
  void refuse(std::uint32_t listener_index, base::Fd client);
  // Allow/deny, then the per-source limiter (which then counts the connection: `counted`).
  [[nodiscard]] bool admit(const config::ListenerConfig& listener,
                           const proxy::ClientAddress& address, bool& counted);
  void tickHealth();
  // Queued sessions of `pool` take the slots that came free, in order, until one finds none.
  void wakeQueued(proxy::PoolState& pool);
  void checkQueues();

  // Moves passive ejections and slow-start ramps on while some pool has them.
  struct HealthTicker final : io::Timer {
    Worker* worker = nullptr;
    void onTimer() override { worker->tickHealth(); }
  };
  // While sessions wait for backend slots: looks for slots freed by other workers.
  struct QueueTicker final : io::Timer {
    Worker* worker = nullptr;
    void onTimer() override { worker->checkQueues(); }
  };
  [[nodiscard]] bool openDatagramListener(std::uint32_t index, std::string& error);

  std::uint32_t id_;
  std::shared_ptr<const proxy::Snapshot> snapshot_;
  const proxy::AccessLog& access_log_;
  std::vector<int> shared_listen_fds_;
  std::unique_ptr<io::EventLoop> loop_;
  proxy::BufferPool buffers_;
  ConnectionLimits* connection_limits_ = nullptr;
  const std::vector<std::unique_ptr<proxy::BackendSlots>>* backend_slots_ = nullptr;
  std::uint32_t worker_count_ = 1;
  // Per listener: per-client-address limits, or null when the listener has none.
  std::vector<std::unique_ptr<proxy::SourceLimiter>> source_limiters_;
  proxy::PipePool pipes_;
  proxy::WorkerStats stats_;
  base::LogThrottle failure_log_;
  std::vector<proxy::PoolState> pools_;
  std::vector<std::unique_ptr<Acceptor>> acceptors_;
  proxy::SessionList sessions_;
  proxy::SessionEnv env_;
  std::unique_ptr<proxy::DatagramBuffers> datagram_buffers_;  // only with datagram listeners
  proxy::DatagramStats datagram_stats_;
  base::LogThrottle datagram_failure_log_;
  std::vector<std::unique_ptr<proxy::DatagramListener>> datagram_listeners_;
  std::shared_ptr<const health::HealthSnapshot> health_;  // the last applied
  std::shared_ptr<const admin::AdminSnapshot> admin_;     // the last applied; null: none yet
  HealthTicker health_ticker_;
  QueueTicker queue_ticker_;
  bool draining_ = false;
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

}  // namespace l4lb::worker
