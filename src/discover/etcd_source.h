#pragma once

// An etcd discover source (README.md, "Discovery"): the keys under a prefix of a real etcd
// (3.4's JSON gateway over HTTP/1.1, cpp-httplib), each value a backend. A thread of its own
// lists the prefix, then watches it from the next revision (with progress notifications), and
// hands every state it reaches to `deliver` as a whole answer: the gate makes the difference.
// A watch that breaks is started again from the next revision (etcd replays what it missed);
// after a compaction (that revision is gone), or when etcd is behind what was seen (another
// store), it lists again. While etcd cannot be reached it delivers errors (the gate keeps the
// last good set) and reconnects, waiting min_interval doubling up to interval.

#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "config/discover_config.h"
#include "discover/answer_gate.h"

namespace httplib {
class Client;
}

namespace l4lb::discover {

class EtcdSource {
 public:
  // Each answer, with the store revision it reflects (0 with an error).
  using Deliver = std::function<void(Answer, std::int64_t revision)>;

  EtcdSource(config::DiscoverConfig config, Deliver deliver);
  ~EtcdSource();
  EtcdSource(const EtcdSource&) = delete;
  EtcdSource& operator=(const EtcdSource&) = delete;

  void start();
  void stop();

 private:
  friend Answer askEtcdOnce(const config::DiscoverConfig& config);
  enum class WatchEnd : std::uint8_t { kStopped, kRelist, kRewatch, kError };

  void run();
  // Lists the prefix into keys_; the revision read at, or 0 (an error was delivered).
  std::int64_t list();
  WatchEnd watch(std::int64_t from);
  void deliverKeys();
  // Waits `delay` unless stopping; false when stopping.
  bool pause(base::Duration delay);

  config::DiscoverConfig config_;
  Deliver deliver_;
  std::unique_ptr<httplib::Client> client_;
  std::map<std::string, std::string> keys_;        // key -> value, as etcd has them
  std::map<std::string, std::string> bad_logged_;  // key -> the value already logged as bad
  std::int64_t revision_ = 0;                      // the last revision seen
  std::string watch_error_;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::atomic<bool> stopping_{false};
  std::atomic<bool> finished_{false};
};

// Lists the prefix once and answers (a server's first answers, before it serves).
[[nodiscard]] Answer askEtcdOnce(const config::DiscoverConfig& config);

}  // namespace l4lb::discover
