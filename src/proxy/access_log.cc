#include "proxy/access_log.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <ctime>
#include <utility>

#include "base/log.h"

namespace l4lb::proxy {

base::Result<AccessLog> AccessLog::open(const std::string& target) {
  AccessLog log;
  if (target == "off") return log;
  log.write_loss_ = std::make_unique<WriteLoss>();
  if (target == "stderr") {
    log.fd_ = STDERR_FILENO;
    return log;
  }
  log.owned_ = base::Fd(::open(target.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!log.owned_) return base::lastError("open access_log");
  log.fd_ = log.owned_.get();
  log.path_ = target;
  return log;
}

base::Result<AccessLog> AccessLog::openSyslog(const net::Endpoint& address, int facility,
                                              std::string tag) {
  auto sink = SyslogSink::open(address, facility, std::move(tag));
  if (!sink) return sink.error();
  AccessLog log;
  log.syslog_ = std::make_unique<SyslogSink>(std::move(sink).value());
  return log;
}

base::Result<bool> AccessLog::reopen() {
  if (path_.empty()) return false;
  base::Fd fresh(::open(path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640));
  if (!fresh) return base::lastError("open access_log");
  if (::dup3(fresh.get(), owned_.get(), O_CLOEXEC) < 0) return base::lastError("dup3 access_log");
  return true;
}

void appendJsonString(std::string& out, std::string_view text) {
  out.push_back('"');
  for (char c : text) {
    auto byte = static_cast<unsigned char>(c);
    if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(c);
    } else if (byte < 0x20) {
      out += fmt::format("\\u{:04x}", byte);
    } else {
      out.push_back(c);
    }
  }
  out.push_back('"');
}

std::string AccessLog::beginLine(std::string_view listener, std::string_view client,
                                 std::string_view backend) {
  using std::chrono::system_clock;
  auto now = system_clock::now();
  std::time_t secs = system_clock::to_time_t(now);
  auto millis =
      std::chrono::duration_cast<std::chrono::milliseconds>(now.time_since_epoch()).count() % 1000;
  std::tm tm{};
  gmtime_r(&secs, &tm);
  std::string line;
  line.reserve(320);
  line += fmt::format(
      "{{\"time\":\"{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z\",\"listener\":", tm.tm_year + 1900,
      tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, millis);
  appendJsonString(line, listener);
  line += ",\"client\":";
  appendJsonString(line, client);
  line += ",\"backend\":";
  if (backend.empty()) {
    line += "null";
  } else {
    appendJsonString(line, backend);
  }
  return line;
}

void AccessLog::writeLine(std::string_view line) const {
  if (syslog_) {
    syslog_->send(line);
    return;
  }
  if (fd_ < 0) return;
  // After a line cut short by a full disk, the next one starts on a line of its own, so every
  // complete line stays one JSON object (the fragment is one lost, counted line).
  std::string joined;
  const bool after_cut = write_loss_->cut_short.exchange(false, std::memory_order_relaxed);
  if (after_cut) {
    joined.reserve(line.size() + 1);
    joined += '\n';
    joined += line;
    line = joined;
  }
  const ssize_t n = ::write(fd_, line.data(), line.size());
  if (n == static_cast<ssize_t>(line.size())) return;
  const int error = n < 0 ? errno : ENOSPC;
  const auto prefix = static_cast<ssize_t>(after_cut ? 1 : 0);
  if (n > prefix || (after_cut && n <= 0)) {
    write_loss_->cut_short.store(true, std::memory_order_relaxed);
  }
  countLoss(error);
}

void AccessLog::countLoss(int error) const {
  const std::uint64_t lost = write_loss_->dropped.fetch_add(1, std::memory_order_relaxed) + 1;
  // Workers share this: one warning a second at most, whoever gets there first.
  const std::int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                               std::chrono::steady_clock::now().time_since_epoch())
                               .count();
  std::int64_t last = write_loss_->last_warning_ms.load(std::memory_order_relaxed);
  if (now - last < 1000 ||
      !write_loss_->last_warning_ms.compare_exchange_strong(last, now, std::memory_order_relaxed)) {
    return;
  }
  base::logWarn(
      "access log: a line could not be written ({}); {} lost so far "
      "(l4lb_access_log_dropped_total)",
      std::strerror(error), lost);
}

std::string AccessLog::formatLine(const AccessRecord& record) {
  std::string line = beginLine(record.listener, record.client, record.backend);
  line += ",\"pool\":";
  appendJsonString(line, record.pool);
  line += ",\"sni\":";
  if (record.sni.empty()) {
    line += "null";
  } else {
    appendJsonString(line, record.sni);
  }
  line += fmt::format(",\"bytes_in\":{},\"bytes_out\":{},\"duration_ms\":{}", record.bytes_in,
                      record.bytes_out, record.duration_ms);
  // null rather than a number that means "none".
  for (auto [key, ms] : {std::pair{",\"connect_ms\":", record.connect_ms},
                         std::pair{",\"first_byte_ms\":", record.first_byte_ms}}) {
    line += key;
    line += ms < 0 ? std::string("null") : fmt::format("{}", ms);
  }
  line += fmt::format(",\"attempts\":{}", record.attempts);
  // Each failed attempt, in the order tried: a connection retried past a dead backend, or one
  // that ended with no backend connected, says which backend failed and how.
  line += ",\"failed_attempts\":[";
  for (std::size_t i = 0; i < record.failed.size(); ++i) {
    line += i == 0 ? "{\"backend\":" : ",{\"backend\":";
    appendJsonString(line, record.failed[i].backend);
    line += ",\"reason\":\"";
    line += attemptFailureName(record.failed[i].error);
    line += "\"}";
  }
  line += fmt::format("],\"end\":\"{}\"}}\n", endReasonName(record.end));
  return line;
}

void AccessLog::write(const AccessRecord& record) const {
  if (!enabled()) return;
  writeLine(formatLine(record));
}

}  // namespace l4lb::proxy
