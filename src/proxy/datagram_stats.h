#pragma once

#include <array>
#include <cstdint>
#include <string>

#include "proxy/counter.h"
#include "proxy/flow_log.h"

namespace l4lb::proxy {

// One worker's datagram counters. Failures on the data path are counted here, never logged one
// by one.
struct DatagramStats {
  Counter datagrams_in;    // from clients, forwarded or not
  Counter datagrams_sent;  // forwarded to backends
  Counter replies_in;      // from backends
  Counter replies_sent;    // delivered back to clients
  Counter bytes_in;        // of the datagrams from clients that went into flows
  Counter bytes_out;       // of the replies from backends
  Counter flows_created;
  Counter flows_active;
  Counter flows_moved;               // to another backend: the first refused (ICMP), or went down
  Counter backend_unreachable;       // ECONNREFUSED on a flow's socket or an mq backend
  Counter dropped_truncated;         // larger than a slot (MSG_TRUNC)
  Counter dropped_no_backend;        // no flow could be set up
  Counter dropped_source_limit;      // a new flow past per_source_max_flows
  Counter dropped_acl;               // from a client address the listener's allow/deny refuse
  Counter dropped_proxy_untrusted;   // proxy_protocol = "accept": from outside proxy_trusted
  Counter dropped_bad_proxy_header;  // proxy_protocol = "accept": no valid v2 header first
  Counter dropped_send;              // backend or client socket full, or a send error
  Counter dropped_no_return;         // replies to clients that cannot be answered (unnamed, mq)
  Counter dropped_too_large;         // larger than an mq backend's message size
  Counter dropped_queue_full;        // an mq backend's queue was full
  Counter receive_errors;
  std::array<Counter, static_cast<std::size_t>(FlowEnd::kCount)> ended;

  Counter& endedBy(FlowEnd reason) { return ended[static_cast<std::size_t>(reason)]; }

  // Adds `other` into this one (for the totals logged at exit).
  void addFrom(const DatagramStats& other);
  // "datagrams_in=10 datagrams_sent=10 ...": one line for the log, easy to grep.
  [[nodiscard]] std::string summary() const;
};

}  // namespace l4lb::proxy
