// The truth of every connection (or UDP flow) and the JSON summary of a run.
//
// A connection is "ok" only if it was established, moved every byte it was meant to, every byte
// matched the seeded stream, and it ended with a FIN. Anything else is a failure with one reason,
// so "attempted = ok + failed" always holds and a summary can be asserted on by counts.
#pragma once

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace l4load {

// How the transport ended, as the kernel told us.
enum class EndKind { kFin, kRst, kTimeout, kErrno };

// Why a connection failed (kNone: it did not).
enum class Failure {
  kNone,
  kConnect,  // connect() failed or timed out (before established)
  kReset,    // an RST while bytes were still due
  kShort,    // FIN before every byte arrived
  kCorrupt,  // a byte differed from the seeded stream
  kTimeout,  // no progress for the stall deadline
  kError,    // any other errno after established
};

const char* endKindName(EndKind kind);
const char* failureName(Failure failure);

struct ConnRecord {
  bool established = false;
  std::uint64_t bytes_sent = 0;
  std::uint64_t bytes_received = 0;
  EndKind end = EndKind::kFin;
  int error = 0;  // errno with kErrno (and with kConnect)
  Failure failure = Failure::kNone;
  double connect_ms = 0;          // SYN to established
  double total_ms = 0;            // SYN to closed
  std::uint64_t ended_at_ms = 0;  // since the run started
};

// Nearest-rank percentile of an unsorted sample (0 for an empty one).
double percentile(std::vector<double> sample, double p);

class Summary {
 public:
  void add(const ConnRecord& record);
  std::uint64_t attempted() const { return attempted_; }
  std::uint64_t ok() const { return ok_; }
  std::uint64_t failed() const { return attempted_ - ok_; }
  nlohmann::json toJson() const;
  // Keeps at most this many failures in detail (the counts are always complete).
  static constexpr std::size_t kFailureSamples = 20;

 private:
  std::uint64_t attempted_ = 0;
  std::uint64_t established_ = 0;
  std::uint64_t ok_ = 0;
  std::uint64_t bytes_sent_ = 0;
  std::uint64_t bytes_received_ = 0;
  std::map<std::string, std::uint64_t> ends_;
  std::map<std::string, std::uint64_t> failures_;
  std::map<std::string, std::uint64_t> errnos_;
  std::vector<double> connect_ms_;
  std::vector<double> total_ms_;
  nlohmann::json failure_samples_ = nlohmann::json::array();
};

}  // namespace l4load
