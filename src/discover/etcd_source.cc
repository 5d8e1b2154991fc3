#include "discover/etcd_source.h"

#include <fmt/format.h>
#include <httplib.h>

#include <algorithm>
#include <chrono>

#include "base/log.h"
#include "discover/etcd_messages.h"

namespace l4lb::discover {

namespace {

// A watch with nothing to say for this long is asked again from the same revision (etcd sends
// progress notifications only every ten minutes by default).
constexpr auto kWatchReadTimeout = std::chrono::seconds(30);

// cpp-httplib names its errors in one word ("Read", "Connection").
std::string describeHttpError(httplib::Error error) {
  switch (error) {
    case httplib::Error::Connection: return "cannot connect";
    case httplib::Error::Read: return "connection lost or no answer";
    case httplib::Error::Write: return "cannot send";
    case httplib::Error::ConnectionTimeout: return "connect timed out";
    default: return httplib::to_string(error);
  }
}

}  // namespace

EtcdSource::EtcdSource(config::DiscoverConfig config, Deliver deliver)
    : config_(std::move(config)), deliver_(std::move(deliver)) {
  client_ = std::make_unique<httplib::Client>(config_.etcd_url);
  const auto timeout = std::chrono::duration_cast<std::chrono::microseconds>(config_.timeout);
  client_->set_connection_timeout(timeout.count() / 1'000'000, timeout.count() % 1'000'000);
  client_->set_write_timeout(timeout.count() / 1'000'000, timeout.count() % 1'000'000);
}

EtcdSource::~EtcdSource() { stop(); }

void EtcdSource::start() {
  if (!thread_.joinable()) thread_ = std::thread([this] { run(); });
}

void EtcdSource::stop() {
  stopping_.store(true);
  wake_.notify_all();
  // The watch blocks in a read: shutting the client's socket down ends it. Repeated, since the
  // thread may be between two requests when first asked.
  for (int i = 0; i < 100 && thread_.joinable() && !finished_.load(); ++i) {
    client_->stop();
    std::unique_lock lock(mutex_);
    wake_.wait_for(lock, std::chrono::milliseconds(50), [this] { return finished_.load(); });
  }
  if (thread_.joinable()) thread_.join();
}

bool EtcdSource::pause(base::Duration delay) {
  std::unique_lock lock(mutex_);
  return !wake_.wait_for(lock, delay, [this] { return stopping_.load(); });
}

void EtcdSource::run() {
  std::uint32_t errors = 0;
  std::int64_t from = 0;  // 0: list first
  while (!stopping_.load()) {
    if (from == 0) {
      const std::int64_t revision = list();
      if (revision == 0) {
        ++errors;
        if (!pause(refreshDelay(config_, std::nullopt, errors))) break;
        continue;
      }
      from = revision + 1;
    }
    const WatchEnd end = watch(from);
    if (end == WatchEnd::kStopped) break;
    if (end == WatchEnd::kRelist) {
      from = 0;
      continue;
    }
    from = revision_ + 1;
    if (end == WatchEnd::kRewatch) {
      errors = 0;
      continue;
    }
    ++errors;
    deliver_(Answer{.kind = AnswerKind::kError, .set = {}, .error = watch_error_}, 0);
    if (!pause(refreshDelay(config_, std::nullopt, errors))) break;
    // The watch failed (etcd gone, restarted, the connection cut): watch again from the next
    // revision, which replays what happened meanwhile; if those revisions were compacted away,
    // etcd says so and the prefix is listed again.
  }
  finished_.store(true);
  wake_.notify_all();
}

std::int64_t EtcdSource::list() {
  const auto timeout = std::chrono::duration_cast<std::chrono::microseconds>(config_.timeout);
  client_->set_read_timeout(timeout.count() / 1'000'000, timeout.count() % 1'000'000);
  auto reply = client_->Post("/v3/kv/range", rangeRequest(config_.prefix), "application/json");
  std::string error;
  if (!reply) {
    error = fmt::format("{}: listing {}: {}", config_.etcd_url, config_.prefix,
                        describeHttpError(reply.error()));
  } else if (reply->status != 200) {
    error = fmt::format("{}/v3/kv/range: HTTP {}", config_.etcd_url, reply->status);
  } else if (auto range = parseRangeReply(reply->body); !range) {
    error = range.error().message();
  } else {
    keys_.clear();
    for (auto& kv : range->kvs) keys_[std::move(kv.key)] = std::move(kv.value);
    revision_ = range->revision;
    deliverKeys();
    return revision_;
  }
  if (!stopping_.load()) deliver_(Answer{.kind = AnswerKind::kError, .set = {}, .error = error}, 0);
  return 0;
}

EtcdSource::WatchEnd EtcdSource::watch(std::int64_t from) {
  const auto read = std::chrono::duration_cast<std::chrono::seconds>(kWatchReadTimeout);
  client_->set_read_timeout(read.count(), 0);
  httplib::Request request;
  request.method = "POST";
  request.path = "/v3/watch";
  request.body = watchRequest(config_.prefix, from);
  request.set_header("Content-Type", "application/json");
  std::string pending;  // bytes of a message not yet ended by its newline
  WatchEnd end = WatchEnd::kRewatch;
  bool answered = false;
  request.content_receiver = [&](const char* data, std::size_t size, std::uint64_t, std::uint64_t) {
    pending.append(data, size);
    for (std::size_t line_end; (line_end = pending.find('\n')) != std::string::npos;) {
      const std::string line = pending.substr(0, line_end);
      pending.erase(0, line_end + 1);
      if (line.find_first_not_of(" \r\t") == std::string::npos) continue;
      auto message = parseWatchMessage(line);
      if (!message) {
        watch_error_ = fmt::format("{}: {}", config_.etcd_url, message.error().message());
        end = WatchEnd::kError;
        return false;
      }
      answered = true;
      if (message->compact_revision > 0) {
        base::logInfo("discovery: {}: revision {} compacted (now {}): listing again",
                      config_.label(), from, message->compact_revision);
        end = WatchEnd::kRelist;
        return false;
      }
      if (message->created && message->revision < revision_) {
        // The store is behind what was seen: another etcd (restored, or a new cluster) whose
        // history is not the one watched. Its keys are listed afresh.
        base::logInfo("discovery: {}: etcd is at revision {}, behind {}: listing again",
                      config_.label(), message->revision, revision_);
        end = WatchEnd::kRelist;
        return false;
      }
      if (message->canceled) {
        watch_error_ =
            fmt::format("{}: watch cancelled: {}", config_.etcd_url, message->cancel_reason);
        end = WatchEnd::kError;
        return false;
      }
      revision_ = std::max(revision_, message->revision);
      if (message->events.empty()) continue;  // created, or a progress notification
      for (auto& event : message->events) {
        if (event.deleted) {
          keys_.erase(event.kv.key);
        } else {
          keys_[std::move(event.kv.key)] = std::move(event.kv.value);
        }
      }
      deliverKeys();
    }
    return !stopping_.load();
  };
  auto result = client_->send(request);
  if (stopping_.load()) return WatchEnd::kStopped;
  if (end != WatchEnd::kRewatch) return end;
  if (result && result->status != 200) {
    watch_error_ = fmt::format("{}/v3/watch: HTTP {}", config_.etcd_url, result->status);
    return WatchEnd::kError;
  }
  // A read timeout after a live watch: ask again from the same revision. Anything else
  // (refused, reset, etcd stopped): an error.
  if (!result && (result.error() != httplib::Error::Read || !answered)) {
    watch_error_ =
        fmt::format("{}: the watch ended: {}", config_.etcd_url, describeHttpError(result.error()));
    return WatchEnd::kError;
  }
  return WatchEnd::kRewatch;
}

void EtcdSource::deliverKeys() {
  Answer answer{.kind = AnswerKind::kRecords, .set = {}, .error = {}};
  for (const auto& [key, value] : keys_) {
    auto backend = parseEtcdValue(value, config_.datagram, net::parseEndpoint);
    if (backend) {
      bad_logged_.erase(key);
      answer.set.backends.push_back(std::move(backend).value());
      continue;
    }
    // Each bad value once, until it changes.
    auto [it, inserted] = bad_logged_.try_emplace(key, value);
    if (inserted || it->second != value) {
      it->second = value;
      base::logWarn("discovery: {}: key {}: left out: {}", config_.label(), key,
                    backend.error().message());
    }
  }
  if (answer.set.backends.empty()) answer.kind = AnswerKind::kEmpty;
  deliver_(std::move(answer), revision_);
}

Answer askEtcdOnce(const config::DiscoverConfig& config) {
  Answer last{.kind = AnswerKind::kError, .set = {}, .error = "not asked"};
  EtcdSource source(config, [&](Answer answer, std::int64_t) { last = std::move(answer); });
  (void)source.list();
  return last;
}

}  // namespace l4lb::discover
