// A proxied connection moving between processes in a binary upgrade (docs/upgrade.md): the old
// process takes it apart (handOff), the new one carries on with it (resume).

#include <algorithm>
#include <cstring>

#include "base/log.h"
#include "proxy/session.h"

namespace l4lb::proxy {

bool Session::movable() const {
  // A retry window keeps bytes for a replay, and pacing state, that the format does not carry:
  // such a session finishes here, as do those still connecting or reading their preamble.
  return state_ == State::kProxying && !relay_.retaining() && !window_.replaying() &&
         relay_.client.fd && relay_.backend.fd;
}

void Session::handOff(SessionHandoff& out, std::vector<base::Fd>& fds) {
  out.listener = listener_.name;
  out.pool = pool_->config->name;
  out.backend = attempts_.current() == balance::kNoBackend
                    ? std::string()
                    : pool_->config->backends[attempts_.current()].name;
  out.client_address.assign(
      reinterpret_cast<const char*>(&client_address_.addr),
      std::min<std::size_t>(client_address_.len, sizeof(client_address_.addr)));
  out.age_ms =
      static_cast<std::uint64_t>(std::max<std::int64_t>(0, env_.loop->now() - started_ms_));
  out.attempts = attempts_.count();
  // Epoll registrations belong to the open socket, which the new process shares: they must go
  // before the descriptors are closed here, or this loop would go on hearing of them.
  env_.loop->remove(relay_.client.fd.get());
  env_.loop->remove(relay_.backend.fd.get());
  env_.loop->timers().cancel(this);
  fds.push_back(std::move(relay_.client.fd));
  fds.push_back(std::move(relay_.backend.fd));
  auto take = [&fds](Direction& d, DirectionState& state) {
    if (d.buffer && d.offset < d.length) {
      state.pending.assign(d.buffer.data() + d.offset, d.length - d.offset);
    }
    state.bytes = d.bytes;
    state.piped = d.piped;
    state.source_eof = d.source_eof;
    state.shut_down = d.shut_down;
    if (d.piped != 0) {
      base::Fd read_end;
      base::Fd write_end;
      d.pipe.release(read_end, write_end);
      fds.push_back(std::move(read_end));
      fds.push_back(std::move(write_end));
      d.piped = 0;
    }
    d.buffer.reset();
    d.offset = d.length = 0;
    d.pipe.reset(true);
  };
  take(relay_.upstream, out.upstream);
  take(relay_.downstream, out.downstream);
  attempts_.release();
  state_ = State::kClosed;
  countEnd(EndReason::kHandedOver);
  owner_->onSessionEnded(this);
}

void Session::resume(const SessionHandoff& state, std::uint32_t backend, base::Fd backend_fd,
                     std::vector<base::Fd> pipes) {
  const std::int64_t now = env_.loop->now();
  started_ms_ = now - static_cast<std::int64_t>(std::min<std::uint64_t>(state.age_ms, 1ULL << 40));
  relay_.touch();
  attempts_.reset(*pool_, 0);  // connected already: never picks
  attempts_.resume(state.attempts, backend);
  if (backend != balance::kNoBackend)
    relay_.setBackendCounters(&pool_->balancer->counters(backend));
  relay_.backend.fd = std::move(backend_fd);
  taken_over_ = true;
  std::size_t next_pipe = 0;
  auto give = [&](Direction& d, const DirectionState& from) {
    d.bytes = from.bytes;
    d.source_eof = from.source_eof;
    d.shut_down = from.shut_down;
    if (!from.pending.empty()) {
      d.buffer = env_.buffers->acquire();
      std::memcpy(d.buffer.data(), from.pending.data(), from.pending.size());
      d.length = static_cast<std::uint32_t>(from.pending.size());
    }
    if (from.piped != 0 && next_pipe + 2 <= pipes.size()) {
      base::Fd read_end = std::move(pipes[next_pipe]);
      base::Fd write_end = std::move(pipes[next_pipe + 1]);
      next_pipe += 2;
      // With splice off here the pipe is only drained: it then closes instead of being pooled.
      d.pipe = env_.pipes != nullptr
                   ? env_.pipes->takeOver(std::move(read_end), std::move(write_end))
                   : PipePool::foreign(std::move(read_end), std::move(write_end));
      d.piped = from.piped;
      d.splicing = true;
    }
  };
  give(relay_.upstream, state.upstream);
  give(relay_.downstream, state.downstream);
  state_ = State::kProxying;
  env_.stats->active.add();
  listener_counters_.active.add();
  // Nothing is known of either socket's readiness here: try both; a read or write that would
  // block clears its flag, and edge-triggered epoll reports what comes next.
  relay_.client.readable = relay_.client.writable = true;
  relay_.backend.readable = relay_.backend.writable = true;
  auto added = env_.loop->add(relay_.client.fd.get(), kStreamEvents, &client_events_);
  if (added) added = env_.loop->add(relay_.backend.fd.get(), kStreamEvents, &backend_events_);
  if (!added) {
    base::logWarn("listener \"{}\": cannot watch a connection handed over: {}", listener_.name,
                  added.error().message());
    finish(EndReason::kClientReset);
    return;
  }
  env_.loop->timers().schedule(this, now + listener_.idle_timeout.count());
  pump();
}

}  // namespace l4lb::proxy
