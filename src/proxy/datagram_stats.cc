#include "proxy/datagram_stats.h"

#include <fmt/format.h>

namespace l4lb::proxy {

void DatagramStats::addFrom(const DatagramStats& o) {
  datagrams_in.add(o.datagrams_in.get());
  datagrams_sent.add(o.datagrams_sent.get());
  replies_in.add(o.replies_in.get());
  replies_sent.add(o.replies_sent.get());
  bytes_in.add(o.bytes_in.get());
  bytes_out.add(o.bytes_out.get());
  flows_created.add(o.flows_created.get());
  flows_active.add(o.flows_active.get());
  flows_moved.add(o.flows_moved.get());
  backend_unreachable.add(o.backend_unreachable.get());
  dropped_truncated.add(o.dropped_truncated.get());
  dropped_no_backend.add(o.dropped_no_backend.get());
  dropped_source_limit.add(o.dropped_source_limit.get());
  dropped_acl.add(o.dropped_acl.get());
  dropped_proxy_untrusted.add(o.dropped_proxy_untrusted.get());
  dropped_bad_proxy_header.add(o.dropped_bad_proxy_header.get());
  dropped_send.add(o.dropped_send.get());
  dropped_no_return.add(o.dropped_no_return.get());
  dropped_too_large.add(o.dropped_too_large.get());
  dropped_queue_full.add(o.dropped_queue_full.get());
  receive_errors.add(o.receive_errors.get());
  for (std::size_t i = 0; i < ended.size(); ++i) ended[i].add(o.ended[i].get());
}

std::string DatagramStats::summary() const {
  std::string out = fmt::format(
      "datagrams_in={} datagrams_sent={} replies_in={} replies_sent={} flows_created={} "
      "flows_moved={} backend_unreachable={} dropped_truncated={} dropped_no_backend={} "
      "dropped_source_limit={} dropped_acl={} dropped_send={} dropped_no_return={} "
      "dropped_too_large={} dropped_queue_full={} dropped_proxy_untrusted={} "
      "dropped_bad_proxy_header={} receive_errors={}",
      datagrams_in.get(), datagrams_sent.get(), replies_in.get(), replies_sent.get(),
      flows_created.get(), flows_moved.get(), backend_unreachable.get(), dropped_truncated.get(),
      dropped_no_backend.get(), dropped_source_limit.get(), dropped_acl.get(), dropped_send.get(),
      dropped_no_return.get(), dropped_too_large.get(), dropped_queue_full.get(),
      dropped_proxy_untrusted.get(), dropped_bad_proxy_header.get(), receive_errors.get());
  for (std::size_t i = 0; i < ended.size(); ++i) {
    std::string name(flowEndName(static_cast<FlowEnd>(i)));
    for (char& c : name) c = c == '-' ? '_' : c;
    out += fmt::format(" flows_{}={}", name, ended[i].get());
  }
  return out;
}

}  // namespace l4lb::proxy
