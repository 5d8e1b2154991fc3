#include "discover/discovery_runner.h"

#include <algorithm>
#include <limits>
#include <random>

#include "base/log.h"
#include "discover/dns_source.h"
#include "io/clock.h"

namespace l4lb::discover {

namespace {

DnsResult askSource(const config::DiscoverConfig& config, const std::atomic<bool>& stop) {
  if (config.kind == config::DiscoverKind::kDns) return askDns(config, stop);
  return DnsResult{.answer = askEtcdOnce(config), .ttl = std::nullopt};
}

constexpr std::int64_t kNever = std::numeric_limits<std::int64_t>::max();

}  // namespace

std::vector<SourceSpec> sourcesOf(const config::Config& config) {
  std::vector<SourceSpec> specs;
  for (const auto& pool : config.pools) {
    if (pool.discover) specs.push_back(SourceSpec{pool.name, *pool.discover});
  }
  return specs;
}

config::DiscoveredPools firstAnswers(const std::vector<SourceSpec>& sources) {
  config::DiscoveredPools found;
  const std::atomic<bool> never{false};
  for (const SourceSpec& spec : sources) {
    DnsResult result = askSource(spec.config, never);
    if (result.answer.kind != AnswerKind::kRecords) {
      base::logWarn("discovery: pool {}: {}: starting without discovered backends", spec.pool,
                    result.answer.kind == AnswerKind::kEmpty
                        ? spec.config.label() + ": empty answer"
                        : result.answer.error);
      continue;
    }
    config::DiscoveredSet set = std::move(result.answer.set);
    set.label = spec.config.label();
    set.sort();
    base::logInfo("discovery: pool {}: {}: starting with {} backend{}", spec.pool, set.label,
                  set.backends.size(), set.backends.size() == 1 ? "" : "s");
    found[spec.pool] = std::move(set);
  }
  return found;
}

DiscoveryRunner::DiscoveryRunner(std::vector<SourceSpec> sources,
                                 const config::DiscoveredPools& applied, Apply apply)
    : specs_(std::move(sources)), apply_(std::move(apply)) {
  for (const SourceSpec& spec : specs_) {
    std::optional<config::DiscoveredSet> before;
    if (auto it = applied.find(spec.pool); it != applied.end()) before = it->second;
    Source source{.pool = spec.pool,
                  .gate = AnswerGate(spec.config, std::move(before)),
                  .next_ask = 0,
                  .errors = 0,
                  .status = {},
                  .logged = {},
                  .etcd = nullptr};
    source.status.pool = spec.pool;
    source.status.label = spec.config.label();
    source.status.backends = source.gate.applied().backends.size();
    sources_.push_back(std::move(source));
  }
  for (std::size_t i = 0; i < sources_.size(); ++i) {
    if (specs_[i].config.kind != config::DiscoverKind::kEtcd) continue;
    sources_[i].next_ask = kNever;  // it delivers its answers itself
    sources_[i].etcd = std::make_unique<EtcdSource>(
        specs_[i].config, [this, i](Answer answer, std::int64_t revision) {
          {
            std::lock_guard lock(mutex_);
            inbox_.push_back(Delivered{i, std::move(answer), revision});
          }
          wake_.notify_all();
        });
  }
}

DiscoveryRunner::~DiscoveryRunner() { stop(); }

void DiscoveryRunner::start() {
  if (sources_.empty() || thread_.joinable()) return;
  thread_ = std::thread([this] { run(); });
  for (Source& source : sources_) {
    if (source.etcd) source.etcd->start();
  }
}

void DiscoveryRunner::stop() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  stop_flag_.store(true, std::memory_order_relaxed);
  wake_.notify_all();
  // The watch threads first: they deliver into inbox_, which this runner's thread reads.
  for (Source& source : sources_) {
    if (source.etcd) source.etcd->stop();
  }
  if (thread_.joinable()) thread_.join();
}

std::vector<config::DiscoveryStatus> DiscoveryRunner::status() const {
  std::lock_guard lock(mutex_);
  std::vector<config::DiscoveryStatus> out;
  for (const Source& source : sources_) out.push_back(source.status);
  return out;
}

void DiscoveryRunner::ask(Source& source, std::int64_t now) {
  const config::DiscoverConfig& config = source.gate.config();
  DnsResult result = askSource(config, stop_flag_);
  if (stop_flag_.load(std::memory_order_relaxed)) return;
  const bool failed = result.answer.kind == AnswerKind::kError;
  source.errors = failed ? source.errors + 1 : 0;
  // ±10%, so that the instances of a cluster, asking the same server, do not ask in step.
  const std::int64_t delay = refreshDelay(config, result.ttl, source.errors).count();
  std::uniform_int_distribution<std::int64_t> spread(-delay / 10, delay / 10);
  source.next_ask = now + delay + spread(jitter_);
  judge(source, std::move(result.answer));
}

void DiscoveryRunner::judge(Source& source, Answer answer, std::int64_t revision) {
  const GateOutcome outcome = source.gate.onAnswer(io::monotonicMillis(), std::move(answer));
  {
    std::lock_guard lock(mutex_);
    source.status.synced = source.gate.synced();
    source.status.state = std::string(verdictName(outcome.verdict));
    if (revision > 0) source.status.revision = revision;
    source.status.message = outcome.message;
  }
  // Each message once while it lasts: an outage is one line, not one a second.
  if (outcome.message == source.logged) return;
  source.logged = outcome.message;
  if (outcome.message.empty()) return;
  switch (outcome.verdict) {
    case Verdict::kError:
      base::logWarn("discovery: pool {}: error: {}", source.pool, outcome.message);
      break;
    case Verdict::kHeldEmpty:
    case Verdict::kHeldRemovals:
      base::logWarn("discovery: pool {}: held: {}", source.pool, outcome.message);
      break;
    case Verdict::kPending:
      base::logInfo("discovery: pool {}: {}", source.pool, outcome.message);
      break;
    case Verdict::kUnchanged: break;
  }
}

void DiscoveryRunner::run() {
  for (;;) {
    std::vector<Delivered> delivered;
    {
      std::lock_guard lock(mutex_);
      delivered.swap(inbox_);
    }
    for (Delivered& d : delivered) judge(sources_[d.source], std::move(d.answer), d.revision);
    std::int64_t now = io::monotonicMillis();
    for (Source& source : sources_) {
      if (now >= source.next_ask) ask(source, now);
      if (stop_flag_.load(std::memory_order_relaxed)) return;
      now = io::monotonicMillis();
      if (auto settled = source.gate.due(now)) {
        {
          std::lock_guard lock(mutex_);
          source.status.backends = settled->backends.size();
          source.status.message.clear();
        }
        source.logged.clear();
        apply_(source.pool, std::move(*settled));
      }
    }
    std::int64_t next = now + 60'000;
    for (const Source& source : sources_) {
      next = std::min(next, source.next_ask);
      if (auto deadline = source.gate.deadline()) next = std::min(next, *deadline);
    }
    std::unique_lock lock(mutex_);
    const auto wait = std::chrono::milliseconds(std::max<std::int64_t>(next - now, 0));
    if (wake_.wait_for(lock, wait, [this] { return stopping_ || !inbox_.empty(); }) && stopping_) {
      return;
    }
  }
}

}  // namespace l4lb::discover
