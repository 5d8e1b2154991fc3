#pragma once

// The discovery thread: asks each pool's discover source when it is due, passes each answer
// through the pool's AnswerGate, and hands each settled change to `apply` (the server posts it
// to its main thread, which makes it one config generation through the reload path). Runs in
// the control plane only; workers never wait on it.

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "config/config.h"
#include "config/discovered.h"
#include "discover/answer_gate.h"
#include "discover/etcd_source.h"

namespace l4lb::discover {

struct SourceSpec {
  std::string pool;
  config::DiscoverConfig config;

  bool operator==(const SourceSpec&) const = default;
};

// Every pool of `config` with a discover table, in pool order.
[[nodiscard]] std::vector<SourceSpec> sourcesOf(const config::Config& config);

// Asks every source once, waiting for each answer: the sets a server starts with, so that a
// pool served only by discovery has its backends from the first connection on. Errors and empty
// answers leave a pool out (it starts with its configured backends, or none).
[[nodiscard]] config::DiscoveredPools firstAnswers(const std::vector<SourceSpec>& sources);

class DiscoveryRunner {
 public:
  using Apply = std::function<void(const std::string& pool, config::DiscoveredSet set)>;

  // `applied`: the sets the serving config holds, each gate's starting point.
  DiscoveryRunner(std::vector<SourceSpec> sources, const config::DiscoveredPools& applied,
                  Apply apply);
  ~DiscoveryRunner();
  DiscoveryRunner(const DiscoveryRunner&) = delete;
  DiscoveryRunner& operator=(const DiscoveryRunner&) = delete;

  void start();
  // Waits for the thread (an answer under way is abandoned within about 100 ms).
  void stop();

  [[nodiscard]] const std::vector<SourceSpec>& sources() const { return specs_; }
  [[nodiscard]] std::vector<config::DiscoveryStatus> status() const;

 private:
  struct Source {
    std::string pool;
    AnswerGate gate;
    std::int64_t next_ask = 0;  // monotonic milliseconds; DNS sources only
    std::uint32_t errors = 0;   // in a row
    config::DiscoveryStatus status;
    std::string logged;                // the last message logged, so a repeated one is not
    std::unique_ptr<EtcdSource> etcd;  // etcd sources: its watch thread, delivering answers
  };

  void run();
  void ask(Source& source, std::int64_t now);
  void judge(Source& source, Answer answer, std::int64_t revision = 0);

  std::vector<SourceSpec> specs_;
  std::vector<Source> sources_;
  Apply apply_;
  std::thread thread_;
  struct Delivered {
    std::size_t source;
    Answer answer;
    std::int64_t revision;
  };
  mutable std::mutex mutex_;  // stopping_, inbox_, and each source's status
  std::condition_variable wake_;
  bool stopping_ = false;
  std::vector<Delivered> inbox_;  // etcd answers
  std::atomic<bool> stop_flag_{false};
  std::minstd_rand jitter_{std::random_device{}()};  // the runner's thread only
};

}  // namespace l4lb::discover
