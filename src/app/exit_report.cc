#include <fmt/format.h>

#include "app/server.h"
#include "base/log.h"
#include "proxy/datagram_stats.h"
#include "proxy/end_reason.h"

namespace l4lb::app {

void Server::logTotals() const {
  std::uint64_t total = 0;
  std::uint64_t spliced = 0;
  std::uint64_t retried = 0;
  std::uint64_t limited = 0;
  std::uint64_t queued = 0;
  std::uint64_t refused_acl = 0;
  std::uint64_t refused_connections = 0;
  std::uint64_t refused_rate = 0;
  std::uint64_t refused_untrusted = 0;
  std::uint64_t routed = 0;
  std::uint64_t not_tls = 0;
  for (const auto& w : workers_) {
    total += w->stats().accepted.get();
    spliced += w->stats().spliced.get();
    retried += w->stats().retried.get();
    limited += w->stats().accept_limited.get();
    refused_acl += w->stats().refused_acl.get();
    queued += w->stats().queued.get();
    refused_connections += w->stats().refused_source_connections.get();
    refused_rate += w->stats().refused_source_rate.get();
    refused_untrusted += w->stats().refused_proxy_untrusted.get();
    routed += w->stats().routed.get();
    not_tls += w->stats().not_tls.get();
  }
  base::logInfo(
      "stopped after {} connections ({} bulk directions moved by splice; {} retried on another "
      "backend after one ended before answering; accepting held back {} times by "
      "max_connections; {} queued for a backend slot; {} routed by their ClientHello, {} not "
      "TLS on routing listeners; refused: {} by allow/deny, {} over per_source_max_connections, "
      "{} over per_source_rate, {} PROXY connections from untrusted sources)",
      total, spliced, retried, limited, queued, routed, not_tls, refused_acl, refused_connections,
      refused_rate, refused_untrusted);
  std::string ended;
  for (std::size_t r = 0; r < static_cast<std::size_t>(proxy::EndReason::kCount); ++r) {
    std::uint64_t count = 0;
    for (const auto& w : workers_) count += w->stats().ended[r].get();
    if (count == 0) continue;
    ended += fmt::format(" {}={}", proxy::endReasonName(static_cast<proxy::EndReason>(r)), count);
  }
  if (!ended.empty()) base::logInfo("connections ended by reason:{}", ended);
  bool any_datagram = false;
  for (const auto& listener : serving_->config().listeners) any_datagram |= listener.isDatagram();
  if (any_datagram) {
    proxy::DatagramStats datagrams;
    for (const auto& w : workers_) datagrams.addFrom(w->datagramStats());
    base::logInfo("datagram totals: {}", datagrams.summary());
  }
}

}  // namespace l4lb::app
