#pragma once

#include <cstddef>

#include "stats/counter.h"

// The stream counters, each family declared once, in a list (the X-macro of Envoy's
// ALL_TCP_PROXY_STATS): the list makes the worker's counters, the plain numbers a scrape or the
// exit report sums them into (stats/metrics_sample.h), and the Prometheus families
// (admin/metrics_collector.cc renders them in the list's order). A new counter is one line here,
// and at most one line where it is shown.
//
// The reasons a connection ends for are proxy's (proxy/end_reason.h): these are templates over
// that enum, which proxy/counter.h fills in, so stats/ stays below proxy/.

// One stream listener's counters in one worker: COUNTER/GAUGE(member, family, reason, help).
// `reason`: the sample's reason= label in its family ("": none). Members of one family follow
// each other; the family's HELP is its first member's. BY_REASON: one counter per end reason,
// labelled with the reason's name.
#define L4LB_LISTENER_STATS(COUNTER, GAUGE, BY_REASON)                                           \
  COUNTER(accepted, "l4lb_listener_connections_accepted_total", "",                              \
          "Connections accepted by a stream listener (refused ones included).")                  \
  GAUGE(active, "l4lb_listener_connections_active", "",                                          \
        "Connections of a stream listener open now.")                                            \
  COUNTER(refused_acl, "l4lb_listener_connections_refused_total", "acl",                         \
          "Connections refused by a stream listener's rules, by reason.")                        \
  COUNTER(refused_source_connections, "l4lb_listener_connections_refused_total",                 \
          "source-connections", "")                                                              \
  COUNTER(refused_source_rate, "l4lb_listener_connections_refused_total", "source-rate", "")     \
  COUNTER(refused_proxy_untrusted, "l4lb_listener_connections_refused_total", "proxy-untrusted", \
          "")                                                                                    \
  /* times accepting stopped at max_connections */                                               \
  COUNTER(accept_limited, "l4lb_listener_accept_paused_total", "",                               \
          "Times a stream listener stopped accepting because it reached max_connections.")       \
  BY_REASON(ended, "l4lb_listener_connections_ended_total", "",                                  \
            "Connections of a stream listener that ended, by reason (as in the access log).")    \
  /* relayed to backends, counted as they are read */                                            \
  COUNTER(bytes_from_clients, "l4lb_listener_bytes_from_clients_total", "",                      \
          "Bytes read from a stream listener's clients and relayed to backends.")                \
  COUNTER(bytes_from_backends, "l4lb_listener_bytes_from_backends_total", "",                    \
          "Bytes read from backends and relayed to a stream listener's clients.")

// One worker's stream counters, over all its listeners, for the exit report
// (app/supervisor.cc): COUNTER(member), BY_REASON(member).
#define L4LB_WORKER_STATS(COUNTER, BY_REASON)                                              \
  COUNTER(accepted)                                                                        \
  COUNTER(active)                                                                          \
  COUNTER(accept_errors)                                                                   \
  COUNTER(accept_paused)                                                                   \
  COUNTER(accept_limited)             /* times a listener stopped at max_connections */    \
  COUNTER(queued)                     /* connections that waited for a backend slot */     \
  COUNTER(refused_acl)                /* allow / deny */                                   \
  COUNTER(refused_source_connections) /* per_source_max_connections */                     \
  COUNTER(refused_source_rate)        /* per_source_rate */                                \
  COUNTER(refused_proxy_untrusted)    /* proxy_protocol = "accept" from outside trusted */ \
  COUNTER(routed)                     /* TLS connections a route sent to its pool */       \
  COUNTER(not_tls)                    /* on routing listeners: not TLS, or a bad hello */  \
  COUNTER(connect_failures)                                                                \
  COUNTER(bytes_from_clients)                                                              \
  COUNTER(bytes_from_backends)                                                             \
  COUNTER(spliced)     /* directions that turned out bulk and moved on to splice(2) */     \
  COUNTER(handed_over) /* sessions a binary upgrade moved to the new process (old) */      \
  COUNTER(taken_over)  /* sessions taken over from the old process (new process) */        \
  COUNTER(retried)     /* moved to another backend after it ended before answering */      \
  BY_REASON(ended)

#define L4LB_STATS_COUNTER_MEMBER(member, ...) Counter member;
#define L4LB_STATS_REASON_MEMBER(member, ...) ReasonCounters<Reason> member;

namespace l4lb::stats {

// One stream listener's counters in one worker (the metrics' per-listener families). A reload
// that keeps a listener's name hands them to its next generation, so they stay monotonic.
template <typename Reason>
struct ListenerCounters {
  L4LB_LISTENER_STATS(L4LB_STATS_COUNTER_MEMBER, L4LB_STATS_COUNTER_MEMBER,
                      L4LB_STATS_REASON_MEMBER)

  Counter& endedBy(Reason reason) { return ended[static_cast<std::size_t>(reason)]; }
};

// One worker's shard of the statistics.
template <typename Reason>
struct WorkerStats {
  L4LB_WORKER_STATS(L4LB_STATS_COUNTER_MEMBER, L4LB_STATS_REASON_MEMBER)

  Counter& endedBy(Reason reason) { return ended[static_cast<std::size_t>(reason)]; }

  // Adds `other` into this one (the totals of all workers, for the exit report).
  void addFrom(const WorkerStats& other) {
#define L4LB_STATS_ADD(member) member.add(other.member.get());
#define L4LB_STATS_ADD_EACH(member) \
  for (std::size_t i = 0; i < member.size(); ++i) member[i].add(other.member[i].get());
    L4LB_WORKER_STATS(L4LB_STATS_ADD, L4LB_STATS_ADD_EACH)
#undef L4LB_STATS_ADD
#undef L4LB_STATS_ADD_EACH
  }
};

}  // namespace l4lb::stats

#undef L4LB_STATS_COUNTER_MEMBER
#undef L4LB_STATS_REASON_MEMBER
