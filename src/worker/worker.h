#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <string_view>
#include <thread>
#include <vector>

#include "base/result.h"
#include "control/admin_state.h"
#include "control/health_snapshot.h"
#include "io/event_loop.h"
#include "proxy/access_log.h"
#include "proxy/balancer_plans.h"
#include "proxy/buffer_pool.h"
#include "proxy/counter.h"
#include "proxy/datagram_buffers.h"
#include "proxy/datagram_listener.h"
#include "proxy/datagram_stats.h"
#include "proxy/session.h"
#include "proxy/session_list.h"
#include "proxy/source_limiter.h"
#include "stats/metrics_sample.h"
#include "worker/acceptor.h"
#include "worker/connection_limits.h"
#include "worker/serving_config.h"

namespace l4lb::worker {

// One event-loop thread with its own listening sockets, sessions, datagram flows, buffer pool,
// balancers and statistics. Nothing here is touched by another thread except through
// loop().post().
//
// Datagram listeners: each worker binds its own udp:// socket (SO_REUSEPORT: the kernel keeps a
// client's datagrams on one worker, so its flow lives in one table). unixgram:// and mq://
// cannot be spread that way, so worker 0 alone serves them.
//
// Config generations: a reload hands the worker a new config (reload()). New connections take
// the newest generation; a session keeps the one it started under (its listener, pool and
// backend indexes point into it) until it ends, and a generation goes when it is no longer the
// newest and its last session has ended. Listening sockets and datagram flows whose bind is
// unchanged carry over to the new generation, so a reload refuses no connection.
class Worker final : public proxy::SessionOwner {
 public:
  Worker(std::uint32_t id, std::shared_ptr<const ServingConfig> serving,
         const proxy::AccessLog& access_log);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Creates the loop and binds this worker's listening sockets, before its thread starts, so a
  // bind error stops l4lb at startup. The error names the listener.
  [[nodiscard]] base::Result<void> init();

  void start();
  // Thread-safe. Stop accepting; the loop ends when the last session has ended.
  void drain();
  // Thread-safe. End every session now (the shutdown grace is over).
  void abortAll();
  // On the worker's thread (posted by the supervisor): serve `order`'s config from now on.
  void reload(ServingOrder& order);
  void join();
  [[nodiscard]] bool finished() const { return finished_.load(std::memory_order_acquire); }

  // Called by acceptors on the worker's thread.
  void onAccepted(std::uint32_t listener_index, base::Fd client,
                  const proxy::ClientAddress& address);
  void onSessionEnded(proxy::Session* session) override;

  // Binary upgrade (worker_upgrade.cc), on the worker's thread unless said otherwise.
  struct ListenerSocket {
    std::string name;  // the listener's
    std::string bind;  // its URL
    base::Fd fd;       // a duplicate: this worker keeps serving on its own until told to stop
  };
  // This worker's listening sockets: its own tcp:// and udp:// ones, and worker 0's unixgram://
  // ones (shared Unix stream sockets are the supervisor's to pass on).
  [[nodiscard]] std::vector<ListenerSocket> listenerSockets() const;
  // Before init(): per listener index, the sockets this worker serves: received from the old
  // process of a binary upgrade, or bound by the supervisor (app/listener_sockets.h).
  void takeOverListeningSockets(std::vector<std::vector<base::Fd>> sockets) {
    taken_sockets_ = std::move(sockets);
  }
  // Stops watching (false) or watches again (true) the listening sockets, keeping them open.
  void setAccepting(bool accepting);
  struct HandedSession {
    proxy::SessionHandoff state;
    std::vector<base::Fd> fds;
  };
  // Takes apart up to `max` sessions that can move, of the listeners named in `listeners`.
  [[nodiscard]] std::vector<HandedSession> handOffSessions(
      const std::vector<std::string>& listeners, std::size_t max);
  // Carries on with a session the old process handed over.
  void takeOverSession(proxy::SessionHandoff state, std::vector<base::Fd> fds);
  // The same for datagram flows (udp://, unixgram:// listeners).
  [[nodiscard]] std::vector<proxy::DatagramListener::HandedFlow> handOffFlows(
      const std::vector<std::string>& listeners);
  void takeOverFlow(const proxy::FlowHandoff& state, base::Fd upstream);
  [[nodiscard]] std::size_t sessionCount() const { return sessions_.size(); }
  // On the worker's thread (a job the admin API posts, worker_sessions.cc): its open stream
  // connections, and ending one of them by id (false: no such session here).
  [[nodiscard]] std::vector<proxy::SessionView> sessionViews() const;
  bool endSession(std::uint64_t id);
  void onSessionQueued() override;
  proxy::PoolState& poolAt(std::uint32_t index) override;
  bool admitClient(proxy::Session& session) override;

  // On the worker's thread (posted by the health thread): the active checks' latest states.
  void applyHealth(std::shared_ptr<const control::HealthSnapshot> states);

  // On the worker's thread (posted by the admin API): the operator's states and weights.
  void applyAdmin(std::shared_ptr<const control::AdminSnapshot> snapshot);

  // Any thread: a backend's counters in this worker's newest generation (relaxed atomics), or
  // null when that generation has no such pool and backend (a reload is on its way).
  struct CountersView {
    std::shared_ptr<const void> keep;  // holds the generation while the counters are read
    const balance::BackendCounters* counters = nullptr;
  };
  [[nodiscard]] CountersView backendCounters(std::string_view pool, std::string_view backend) const;

  // Any thread: adds this worker's counters (its newest generation's, and its datagram totals)
  // to `sample`, by listener, pool and backend name (worker_metrics.cc).
  void addMetrics(stats::MetricsSample& sample) const;
  // On the worker's thread: the counters of listener `index` of the newest generation.
  [[nodiscard]] proxy::ListenerCounters& listenerCounters(std::uint32_t index) const {
    return *current().listener_counters[index];
  }

  // Before init(): how many workers share each SO_REUSEPORT listener.
  void setWorkerCount(std::uint32_t count) { worker_count_ = count; }
  [[nodiscard]] ConnectionLimits* connectionLimits() const {
    return current().serving->limits.get();
  }

  [[nodiscard]] io::EventLoop& loop() { return *loop_; }
  [[nodiscard]] proxy::WorkerStats& stats() { return stats_; }
  [[nodiscard]] const proxy::DatagramStats& datagramStats() const { return datagram_stats_; }
  [[nodiscard]] std::uint32_t id() const { return id_; }
  [[nodiscard]] std::string_view listenerName(std::uint32_t index) const;

 private:
  // This worker's own, mutable state for one ServingConfig (see the class comment).
  struct Generation final : proxy::SessionScope {
    std::shared_ptr<const ServingConfig> serving;
    std::vector<proxy::PoolState> pools;
    // Per listener: per-client-address limits, or null. Shared with the next generation when a
    // reload keeps the listener and its limits, so open connections stay counted.
    std::vector<std::shared_ptr<proxy::SourceLimiter>> source_limiters;
    // Per listener (stream ones count here): shared with the next generation when a reload
    // keeps the listener's name, so the metrics stay monotonic.
    std::vector<std::shared_ptr<proxy::ListenerCounters>> listener_counters;
    [[nodiscard]] const config::Config& config() const { return serving->config; }
  };

  [[nodiscard]] Generation& current() const { return *generations_.back(); }
  // A generation for `serving`: pools (balancers, passive health, slots) and source limiters.
  [[nodiscard]] std::shared_ptr<Generation> makeGeneration(
      std::shared_ptr<const ServingConfig> serving, const Generation* previous);
  // makeGeneration's parts: pool `index`'s balancer, passive health and slots (keeping the
  // counters of backends `previous` has); listener `index`'s counters and source limiter
  // (shared with `previous` where the listener is kept).
  [[nodiscard]] proxy::PoolState makePoolState(const Generation& generation, std::uint32_t index,
                                               const Generation* previous);
  void carryListenerState(Generation& generation, std::uint32_t index, const Generation* previous);
  // reload's parts: acceptors and datagram listeners whose socket the newest generation keeps
  // serve it (`served`), the others close; then the listeners not served yet open.
  void keepListeners(const std::vector<config::ListenerConfig>& old_listeners,
                     std::vector<bool>& served);
  void openNewListeners(ServingOrder& order, const std::vector<bool>& served);
  // Drops generations that are neither the newest nor serving a session.
  void dropIdleGenerations();
  void run();
  void stopIfDrained();
  // Closes a connection refused by the listener's rules (allow/deny, per-source limits).
  void refuse(std::uint32_t listener_index, base::Fd client);
  // Allow/deny, then the per-source limiter of `generation` (which then counts the connection:
  // `counted`), for a client at accept or named by a PROXY header. A refusal is counted.
  [[nodiscard]] bool admit(Generation& generation, const config::ListenerConfig& listener,
                           proxy::ListenerCounters& counters, const proxy::ClientAddress& address,
                           bool& counted);
  enum class Refusal : std::uint8_t { kAcl, kSourceConnections, kSourceRate, kProxyUntrusted };
  // The one place a refusal is counted: for its listener, and in the worker's totals (which
  // outlive a listener a reload removes, for the exit report).
  void countRefusal(Refusal why, proxy::ListenerCounters& counters);
  void tickHealth();
  // Starts the health ticker when the newest generation has ramps or ejections to move on.
  void scheduleHealthTicks();
  // Queued sessions of `pool` take the slots that came free, in order, until one finds none.
  void wakeQueued(proxy::PoolState& pool);
  void checkQueues();
  // After a batch in which sessions ended: held-back listeners take the room, and queued
  // sessions the slots, that those sessions left. Never from inside a session's end, where a
  // chain of sessions failing in a row (every backend down, thousands queued) would recurse.
  void settle();

  // Moves passive ejections and slow-start ramps on while some pool has them.
  struct HealthTicker final : io::Timer {
    Worker* worker = nullptr;
    void onTimer() override { worker->tickHealth(); }
  };
  struct Settler final : io::AfterBatch {
    Worker* worker = nullptr;
    void onBatchEnd() override { worker->settle(); }
  };
  // While sessions wait for backend slots: looks for slots freed by other workers.
  struct QueueTicker final : io::Timer {
    Worker* worker = nullptr;
    void onTimer() override { worker->checkQueues(); }
  };
  // Listener `index` at startup: on `taken` (sockets received from the old process, or none),
  // else on a socket of its own or the shared one.
  [[nodiscard]] base::Result<void> openListener(std::uint32_t index, std::vector<base::Fd> taken);
  // `taken`: a socket received from the old process or bound by the supervisor, served
  // instead of binding one (a worker binds only unixgram:// and mq:// itself).
  [[nodiscard]] base::Result<void> openDatagramListener(std::uint32_t index, base::Fd taken = {});
  // A stream listener's acceptor on `owned` (this worker's socket) or the shared one.
  [[nodiscard]] base::Result<void> addAcceptor(std::uint32_t index, base::Fd owned);
  // Applies a health snapshot of the newest generation's pools; `before` is what was applied.
  void applyHealthTo(Generation& generation, const control::HealthSnapshot& states,
                     const control::HealthSnapshot* before);

  std::uint32_t id_;
  const proxy::AccessLog& access_log_;
  std::unique_ptr<io::EventLoop> loop_;
  proxy::BufferPool buffers_;
  std::uint32_t worker_count_ = 1;
  proxy::PipePool pipes_;
  proxy::WorkerStats stats_;
  base::LogThrottle failure_log_;
  // Oldest first; back() is the newest, which new connections take.
  std::vector<std::shared_ptr<Generation>> generations_;
  // The newest generation, for other threads (the admin API's counters).
  std::atomic<std::shared_ptr<const Generation>> published_;
  std::vector<std::unique_ptr<Acceptor>> acceptors_;
  std::vector<std::vector<base::Fd>> taken_sockets_;  // until init() (binary upgrade)
  // Closed by a reload: kept until the worker ends, as events already fetched may name them.
  std::vector<std::unique_ptr<Acceptor>> retired_acceptors_;
  std::vector<std::unique_ptr<proxy::DatagramListener>> retired_datagram_listeners_;
  proxy::SessionList sessions_;
  std::uint64_t session_sequence_ = 0;  // the last session id's low bits (proxy::sessionId)
  proxy::SessionEnv env_;
  std::unique_ptr<proxy::DatagramBuffers> datagram_buffers_;  // only with datagram listeners
  proxy::DatagramStats datagram_stats_;
  base::LogThrottle datagram_failure_log_;
  std::vector<std::unique_ptr<proxy::DatagramListener>> datagram_listeners_;
  std::shared_ptr<const control::HealthSnapshot> health_;  // the last applied
  std::shared_ptr<const control::AdminSnapshot> admin_;    // the last applied; null: none yet
  HealthTicker health_ticker_;
  QueueTicker queue_ticker_;
  Settler settler_;
  bool room_freed_ = false;  // a session of a listener with max_connections ended
  bool draining_ = false;
  std::atomic<bool> finished_{false};
  std::thread thread_;
};

}  // namespace l4lb::worker
