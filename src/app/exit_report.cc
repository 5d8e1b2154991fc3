#include <fmt/format.h>

#include "app/server.h"
#include "base/log.h"
#include "proxy/datagram_stats.h"
#include "proxy/end_reason.h"

namespace l4lb::app {

void Server::logTotals() const {
  proxy::WorkerStats totals;
  for (const auto& w : workers_) totals.addFrom(w->stats());
  base::logInfo(
      "stopped after {} connections ({} bulk directions moved by splice; {} retried on another "
      "backend after one ended before answering; accepting held back {} times by "
      "max_connections; {} queued for a backend slot; {} routed by their ClientHello, {} not "
      "TLS on routing listeners; refused: {} by allow/deny, {} over per_source_max_connections, "
      "{} over per_source_rate, {} PROXY connections from untrusted sources)",
      totals.accepted.get(), totals.spliced.get(), totals.retried.get(),
      totals.accept_limited.get(), totals.queued.get(), totals.routed.get(), totals.not_tls.get(),
      totals.refused_acl.get(), totals.refused_source_connections.get(),
      totals.refused_source_rate.get(), totals.refused_proxy_untrusted.get());
  std::string ended;
  for (std::size_t r = 0; r < static_cast<std::size_t>(proxy::EndReason::kCount); ++r) {
    const std::uint64_t count = totals.ended[r].get();
    if (count == 0) continue;
    ended += fmt::format(" {}={}", proxy::endReasonName(static_cast<proxy::EndReason>(r)), count);
  }
  if (!ended.empty()) base::logInfo("connections ended by reason:{}", ended);
  bool any_datagram = false;
  for (const auto& listener : serving_->config.listeners) any_datagram |= listener.isDatagram();
  if (any_datagram) {
    proxy::DatagramStats datagrams;
    for (const auto& w : workers_) datagrams.addFrom(w->datagramStats());
    base::logInfo("datagram totals: {}", datagrams.summary());
  }
}

}  // namespace l4lb::app
