#pragma once

#include <fmt/format.h>

#include <cstddef>
#include <string>
#include <string_view>

#include "stats/counter.h"

// One worker's datagram counters, each declared once (as stats/stream_stats.h explains):
// COUNTER/GAUGE/BY_REASON(member, report, family, label, value, help). `report`: its key in the
// "datagram totals" line logged at exit ("": not there; BY_REASON: the prefix of each reason's
// key). `label`="`value`": the sample's label in its family ("": none; BY_REASON: the label the
// reason's name goes in). Members of one family follow each other; the family's HELP is its
// first member's. Failures on the data path are counted here, never logged one by one.
#define L4LB_DATAGRAM_STATS(COUNTER, GAUGE, BY_REASON)                                            \
  GAUGE(flows_active, "", "l4lb_datagram_flows_active", "", "",                                   \
        "Datagram flows open now (all datagram listeners).")                                      \
  COUNTER(flows_created, "flows_created", "l4lb_datagram_flows_created_total", "", "",            \
          "Datagram flows set up.")                                                               \
  BY_REASON(ended, "flows_", "l4lb_datagram_flows_ended_total", "reason", "",                     \
            "Datagram flows that ended, by reason (\"evicted\": the flow table was full).")       \
  /* to another backend: the first refused (ICMP), or went down */                                \
  COUNTER(flows_moved, "flows_moved", "l4lb_datagram_flows_moved_total", "", "",                  \
          "Datagram flows moved to another backend (the first refused, or went down).")           \
  /* from clients, forwarded or not */                                                            \
  COUNTER(datagrams_in, "datagrams_in", "l4lb_datagrams_received_total", "from", "client",        \
          "Datagrams received from clients and replies received from backends.")                  \
  COUNTER(replies_in, "replies_in", "l4lb_datagrams_received_total", "from", "backend", "")       \
  COUNTER(datagrams_sent, "datagrams_sent", "l4lb_datagrams_sent_total", "to", "backend",         \
          "Datagrams forwarded to backends and replies delivered to clients.")                    \
  COUNTER(replies_sent, "replies_sent", "l4lb_datagrams_sent_total", "to", "client", "")          \
  /* of the datagrams from clients that went into flows, and of the replies from backends */      \
  COUNTER(bytes_in, "", "l4lb_datagram_bytes_total", "from", "client",                            \
          "Bytes of datagrams taken into flows from clients, and of replies from backends.")      \
  COUNTER(bytes_out, "", "l4lb_datagram_bytes_total", "from", "backend", "")                      \
  /* larger than a slot (MSG_TRUNC) */                                                            \
  COUNTER(dropped_truncated, "dropped_truncated", "l4lb_datagrams_dropped_total", "reason",       \
          "truncated", "Datagrams dropped, by reason.")                                           \
  /* no flow could be set up */                                                                   \
  COUNTER(dropped_no_backend, "dropped_no_backend", "l4lb_datagrams_dropped_total", "reason",     \
          "no-backend", "")                                                                       \
  /* a new flow past per_source_max_flows */                                                      \
  COUNTER(dropped_source_limit, "dropped_source_limit", "l4lb_datagrams_dropped_total", "reason", \
          "source-limit", "")                                                                     \
  /* from a client address the listener's allow/deny refuse */                                    \
  COUNTER(dropped_acl, "dropped_acl", "l4lb_datagrams_dropped_total", "reason", "acl", "")        \
  /* proxy_protocol = "accept": from outside proxy_trusted */                                     \
  COUNTER(dropped_proxy_untrusted, "dropped_proxy_untrusted", "l4lb_datagrams_dropped_total",     \
          "reason", "proxy-untrusted", "")                                                        \
  /* proxy_protocol = "accept": no valid v2 header first */                                       \
  COUNTER(dropped_bad_proxy_header, "dropped_bad_proxy_header", "l4lb_datagrams_dropped_total",   \
          "reason", "bad-proxy-header", "")                                                       \
  /* backend or client socket full, or a send error */                                            \
  COUNTER(dropped_send, "dropped_send", "l4lb_datagrams_dropped_total", "reason", "send-error",   \
          "")                                                                                     \
  /* replies to clients that cannot be answered (unnamed, mq) */                                  \
  COUNTER(dropped_no_return, "dropped_no_return", "l4lb_datagrams_dropped_total", "reason",       \
          "no-return", "")                                                                        \
  /* larger than an mq backend's message size */                                                  \
  COUNTER(dropped_too_large, "dropped_too_large", "l4lb_datagrams_dropped_total", "reason",       \
          "too-large", "")                                                                        \
  /* an mq backend's queue was full */                                                            \
  COUNTER(dropped_queue_full, "dropped_queue_full", "l4lb_datagrams_dropped_total", "reason",     \
          "queue-full", "")                                                                       \
  /* ECONNREFUSED on a flow's socket or an mq backend */                                          \
  COUNTER(backend_unreachable, "backend_unreachable", "l4lb_datagram_backend_unreachable_total",  \
          "", "", "Times a backend refused a flow's datagrams (ICMP port unreachable, or mq).")   \
  COUNTER(receive_errors, "receive_errors", "l4lb_datagram_receive_errors_total", "", "",         \
          "Errors receiving datagrams (other than would-block).")

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

  // "flows_created=10 flows_completed=9 ...": one line for the log, easy to grep.
  [[nodiscard]] std::string summary() const {
    std::string out;
    auto put = [&out](std::string_view key, std::uint64_t value) {
      if (key.empty()) return;
      out += fmt::format("{}{}={}", out.empty() ? "" : " ", key, value);
    };
#define L4LB_STATS_PUT(member, report, ...) put(report, member.get());
#define L4LB_STATS_PUT_EACH(member, report, ...)           \
  for (std::size_t i = 0; i < member.size(); ++i) {        \
    std::string name(kReasonName(static_cast<Reason>(i))); \
    for (char& c : name) c = c == '-' ? '_' : c;           \
    put(std::string(report) + name, member[i].get());      \
  }
    L4LB_DATAGRAM_STATS(L4LB_STATS_PUT, L4LB_STATS_PUT, L4LB_STATS_PUT_EACH)
#undef L4LB_STATS_PUT
#undef L4LB_STATS_PUT_EACH
    return out;
  }
};

}  // namespace l4lb::stats

#undef L4LB_STATS_DATAGRAM_MEMBER
#undef L4LB_STATS_DATAGRAM_REASONS
