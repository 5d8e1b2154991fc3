// The worker's part in a binary upgrade (docs/upgrade.md): lending its listening sockets to the
// new process, stopping accepting, taking sessions apart, and, in the new process, carrying on
// with the sessions handed over.

#include <fcntl.h>

#include <algorithm>
#include <cstring>

#include "base/log.h"
#include "worker/worker.h"

namespace l4lb::worker {

std::vector<Worker::ListenerSocket> Worker::listenerSockets() const {
  std::vector<ListenerSocket> out;
  const auto& listeners = current().config().listeners;
  for (const auto& acceptor : acceptors_) {
    if (acceptor->ownedFd() < 0) continue;  // shared: the supervisor passes it once
    const auto& listener = listeners[acceptor->listenerIndex()];
    base::Fd copy(::fcntl(acceptor->ownedFd(), F_DUPFD_CLOEXEC, 0));
    if (!copy) {
      base::logError("worker {}: listener \"{}\": cannot duplicate its socket: {}", id_,
                     listener.name, std::strerror(errno));
      continue;
    }
    out.push_back({listener.name, listener.bind.url, std::move(copy)});
  }
  for (const auto& datagram : datagram_listeners_) {
    // A socket the service manager passed is shared: the supervisor passes it on once.
    if (current().serving->sharedFd(datagram->listener().index) >= 0) continue;
    base::Fd copy = datagram->duplicateSocket();
    if (!copy) continue;  // mq:// (opened by name) or closed
    out.push_back({datagram->listener().name, datagram->listener().bind.url, std::move(copy)});
  }
  return out;
}

void Worker::setAccepting(bool accepting) {
  for (auto& acceptor : acceptors_) acceptor->setSuspended(!accepting);
  for (auto& datagram : datagram_listeners_) datagram->setReceiving(accepting);
}

std::vector<Worker::HandedSession> Worker::handOffSessions(
    const std::vector<std::string>& listeners, std::size_t max) {
  std::vector<HandedSession> out;
  proxy::Session* session = sessions_.head();
  while (session != nullptr && out.size() < max) {
    proxy::Session* next = session->next;  // handOff() unlinks it
    const bool taken =
        std::find(listeners.begin(), listeners.end(), session->listener().name) != listeners.end();
    if (taken && session->movable()) {
      HandedSession handed;
      session->handOff(handed.state, handed.fds);
      stats_.handed_over.add();
      out.push_back(std::move(handed));
    }
    session = next;
  }
  return out;
}

void Worker::takeOverSession(proxy::SessionHandoff state, std::vector<base::Fd> fds) {
  Generation& generation = current();
  const auto& config = generation.config();
  const config::ListenerConfig* listener = nullptr;
  for (const auto& candidate : config.listeners) {
    if (candidate.name == state.listener && !candidate.isDatagram()) listener = &candidate;
  }
  if (listener == nullptr || fds.size() < 2) {
    // The old process hands over only sessions of listeners this one said it serves.
    base::logError("upgrade: a session of listener \"{}\" came, which is not served here; closed",
                   state.listener);
    return;
  }
  // The pool it was routed to (a route may have chosen another than the listener's), by name.
  std::uint32_t pool_index = listener->pool_index;
  for (std::uint32_t p = 0; p < config.pools.size(); ++p) {
    if (config.pools[p].name == state.pool) pool_index = p;
  }
  proxy::PoolState& pool = generation.pools[pool_index];
  std::uint32_t backend = balance::kNoBackend;
  if (config.pools[pool_index].name == state.pool) {
    const auto& backends = config.pools[pool_index].backends;
    for (std::uint32_t b = 0; b < backends.size(); ++b) {
      if (backends[b].name == state.backend) backend = b;
    }
  }
  proxy::ClientAddress address;
  const std::size_t length = std::min(state.client_address.size(), sizeof(address.addr));
  std::memcpy(&address.addr, state.client_address.data(), length);
  address.len = static_cast<socklen_t>(length);
  ConnectionLimits* limits = generation.serving->limits.get();
  if (limits != nullptr && limits->limits(listener->index)) limits->acquireAnyway(listener->index);
  auto* session =
      new proxy::Session(env_, this, *listener, *generation.listener_counters[listener->index],
                         pool, std::move(fds[0]), address);
  session->scope = &generation;
  ++generation.sessions;
  sessions_.pushFront(session);
  session->id = proxy::sessionId(id_, ++session_sequence_);
  stats_.taken_over.add();
  base::Fd backend_fd = std::move(fds[1]);
  fds.erase(fds.begin(), fds.begin() + 2);
  session->resume(state, backend, std::move(backend_fd), std::move(fds));
}

std::vector<proxy::DatagramListener::HandedFlow> Worker::handOffFlows(
    const std::vector<std::string>& listeners) {
  std::vector<proxy::DatagramListener::HandedFlow> out;
  for (auto& datagram : datagram_listeners_) {
    const auto& name = datagram->listener().name;
    if (std::find(listeners.begin(), listeners.end(), name) == listeners.end()) continue;
    const std::size_t before = out.size();
    datagram->handOffFlows(out);
    for (std::size_t i = before; i < out.size(); ++i) out[i].state.worker = id_;
  }
  return out;
}

void Worker::takeOverFlow(const proxy::FlowHandoff& state, base::Fd upstream) {
  // Beside the socket the client's datagrams come in on (with fewer workers than the old
  // process had, a worker serves several of a listener's sockets, and a flow beside another
  // would never see its client again). Without a cookie (an older sender), the first.
  proxy::DatagramListener* target = nullptr;
  for (auto& datagram : datagram_listeners_) {
    if (datagram->listener().name != state.listener) continue;
    if (target == nullptr) target = datagram.get();
    if (state.socket_cookie != 0 && datagram->socketCookie() == state.socket_cookie) {
      target = datagram.get();
      break;
    }
  }
  if (target == nullptr) return;
  const auto& pool = current().config().pools[target->listener().pool_index];
  if (pool.name != state.pool) return;
  for (std::uint32_t b = 0; b < pool.backends.size(); ++b) {
    if (pool.backends[b].name == state.backend) {
      (void)target->takeOverFlow(state, b, std::move(upstream));
      return;
    }
  }
  // Its backend is gone: the client's next datagram starts a new flow.
}

}  // namespace l4lb::worker
