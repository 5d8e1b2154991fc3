#pragma once

#include <fmt/format.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "stats/counter.h"

// One worker's datagram counters, each declared once (as stats/stream_stats.h explains):
// COUNTER/GAUGE/BY_REASON(member, family, label, value, help). `label`="`value`": the sample's
// label in its family ("": none; BY_REASON: the label the reason's name goes in). Members of one
// family follow each other; the family's HELP is its first member's. Failures on the data path
// are counted here, never logged one by one.
#define L4LB_DATAGRAM_STATS(COUNTER, GAUGE, BY_REASON)                                            \
  GAUGE(flows_active, "l4lb_datagram_flows_active", "", "",                                       \
        "Datagram flows open now (all datagram listeners).")                                      \
  COUNTER(flows_created, "l4lb_datagram_flows_created_total", "", "", "Datagram flows set up.")   \
  BY_REASON(ended, "l4lb_datagram_flows_ended_total", "reason", "",                               \
            "Datagram flows that ended, by reason (\"evicted\": the flow table was full).")       \
  /* to another backend: the first refused (ICMP), or went down */                                \
  COUNTER(flows_moved, "l4lb_datagram_flows_moved_total", "", "",                                 \
          "Datagram flows moved to another backend (the first refused, or went down).")           \
  /* from clients, forwarded or not */                                                            \
  COUNTER(datagrams_in, "l4lb_datagrams_received_total", "from", "client",                        \
          "Datagrams received from clients and replies received from backends.")                  \
  COUNTER(replies_in, "l4lb_datagrams_received_total", "from", "backend", "")                     \
  COUNTER(datagrams_sent, "l4lb_datagrams_sent_total", "to", "backend",                           \
          "Datagrams forwarded to backends and replies delivered to clients.")                    \
  COUNTER(replies_sent, "l4lb_datagrams_sent_total", "to", "client", "")                          \
  /* of the datagrams from clients that went into flows, and of the replies from backends */      \
  COUNTER(bytes_in, "l4lb_datagram_bytes_total", "from", "client",                                \
          "Bytes of datagrams taken into flows from clients, and of replies from backends.")      \
  COUNTER(bytes_out, "l4lb_datagram_bytes_total", "from", "backend", "")                          \
  /* larger than a slot (MSG_TRUNC) */                                                            \
  COUNTER(dropped_truncated, "l4lb_datagrams_dropped_total", "reason", "truncated",               \
          "Datagrams dropped, by reason.")                                                        \
  /* no flow could be set up */                                                                   \
  COUNTER(dropped_no_backend, "l4lb_datagrams_dropped_total", "reason", "no-backend", "")         \
  /* a new flow past per_source_max_flows */                                                      \
  COUNTER(dropped_source_limit, "l4lb_datagrams_dropped_total", "reason", "source-limit", "")     \
  /* from a client address the listener's allow/deny refuse */                                    \
  COUNTER(dropped_acl, "l4lb_datagrams_dropped_total", "reason", "acl", "")                       \
  /* proxy_protocol = "accept": from outside proxy_trusted */                                     \
  COUNTER(dropped_proxy_untrusted, "l4lb_datagrams_dropped_total", "reason", "proxy-untrusted",   \
          "")                                                                                     \
  /* proxy_protocol = "accept": no valid v2 header first */                                       \
  COUNTER(dropped_bad_proxy_header, "l4lb_datagrams_dropped_total", "reason", "bad-proxy-header", \
          "")                                                                                     \
  /* backend or client socket full, or a send error */                                            \
  COUNTER(dropped_send, "l4lb_datagrams_dropped_total", "reason", "send-error", "")               \
  /* replies to clients that cannot be answered (unnamed, mq) */                                  \
  COUNTER(dropped_no_return, "l4lb_datagrams_dropped_total", "reason", "no-return", "")           \
  /* larger than an mq backend's message size */                                                  \
  COUNTER(dropped_too_large, "l4lb_datagrams_dropped_total", "reason", "too-large", "")           \
  /* an mq backend's queue was full */                                                            \
  COUNTER(dropped_queue_full, "l4lb_datagrams_dropped_total", "reason", "queue-full", "")         \
  /* ECONNREFUSED on a flow's socket or an mq backend */                                          \
  COUNTER(backend_unreachable, "l4lb_datagram_backend_unreachable_total", "", "",                 \
          "Times a backend refused a flow's datagrams (ICMP port unreachable, or mq).")           \
  COUNTER(receive_errors, "l4lb_datagram_receive_errors_total", "", "",                           \
          "Errors receiving datagrams (other than would-block).")

// The "datagram totals" line logged at exit: these members as `member=value`, in this order (the
// line's own, older than the list's), then each flow end reason as `flows_<reason>=value`.
// clang-format off
#define L4LB_DATAGRAM_REPORT(KEY) \
  KEY(datagrams_in) \
  KEY(datagrams_sent) \
  KEY(replies_in) \
  KEY(replies_sent) \
  KEY(flows_created) \
  KEY(flows_moved) \
  KEY(backend_unreachable) \
  KEY(dropped_truncated) \
  KEY(dropped_no_backend) \
  KEY(dropped_source_limit) \
  KEY(dropped_acl) \
  KEY(dropped_send) \
  KEY(dropped_no_return) \
  KEY(dropped_too_large) \
  KEY(dropped_queue_full) \
  KEY(dropped_proxy_untrusted) \
  KEY(dropped_bad_proxy_header) \
  KEY(receive_errors)
// clang-format on

#define L4LB_STATS_DATAGRAM_MEMBER(member, ...) Counter member;
#define L4LB_STATS_DATAGRAM_REASONS(member, ...) ReasonCounters<Reason> member;

namespace l4lb::stats {

// `Reason`: why a flow ends (proxy/flow_log.h's FlowEnd), `kReasonName` its names.
template <typename Reason, std::string_view (*kReasonName)(Reason)>
struct DatagramStats {
  L4LB_DATAGRAM_STATS(L4LB_STATS_DATAGRAM_MEMBER, L4LB_STATS_DATAGRAM_MEMBER,
                      L4LB_STATS_DATAGRAM_REASONS)

  Counter& endedBy(Reason reason) { return ended[static_cast<std::size_t>(reason)]; }

  // Adds `other` into this one (for the totals logged at exit).
  void addFrom(const DatagramStats& other) {
#define L4LB_STATS_ADD(member, ...) member.add(other.member.get());
#define L4LB_STATS_ADD_EACH(member, ...) \
  for (std::size_t i = 0; i < member.size(); ++i) member[i].add(other.member[i].get());
    L4LB_DATAGRAM_STATS(L4LB_STATS_ADD, L4LB_STATS_ADD, L4LB_STATS_ADD_EACH)
#undef L4LB_STATS_ADD
#undef L4LB_STATS_ADD_EACH
  }

  // "datagrams_in=10 datagrams_sent=10 ...": one line for the log, easy to grep.
  [[nodiscard]] std::string summary() const {
    std::string out;
#define L4LB_STATS_PUT(member) out += fmt::format(#member "={} ", member.get());
    L4LB_DATAGRAM_REPORT(L4LB_STATS_PUT)
#undef L4LB_STATS_PUT
    for (std::size_t i = 0; i < ended.size(); ++i) {
      std::string name(kReasonName(static_cast<Reason>(i)));
      for (char& c : name) c = c == '-' ? '_' : c;
      out += fmt::format("flows_{}={} ", name, ended[i].get());
    }
    out.pop_back();  // the last space
    return out;
  }
};

}  // namespace l4lb::stats

#undef L4LB_STATS_DATAGRAM_MEMBER
#undef L4LB_STATS_DATAGRAM_REASONS
