// The packet path in the admin API: GET /api/v1/packet and the l4lb_packet_* metric families
// (README.md, "Admin API" and "Metrics"). The numbers come from the XDP programs' maps, read by
// packet::PacketPath through the hook app/ wires.

#include <nlohmann/json.hpp>

#include "admin/controller.h"
#include "admin/metrics_collector.h"
#include "admin/metrics_text.h"

namespace l4lb::admin {

namespace {

using nlohmann::json;
using Type = MetricsText::Type;

json countersJson(const l4lb_counters& c) {
  return json{{"packets", c.packets},
              {"bytes", c.bytes},
              {"new_flows", c.new_flows},
              {"conn_misses", c.conn_misses}};
}

// One family per counter of struct l4lb_counters, for VIPs or backends.
struct CounterFamily {
  const char* suffix;
  __u64 l4lb_counters::*member;
  const char* help;
};
constexpr CounterFamily kCounterFamilies[] = {
    {"packets_total", &l4lb_counters::packets, "Packets the XDP program took for it"},
    {"bytes_total", &l4lb_counters::bytes, "Bytes of those packets, Ethernet header included"},
    {"new_flows_total", &l4lb_counters::new_flows,
     "Flows given a backend from the Maglev table (SYN, connection-table miss, or a down "
     "backend's flow re-picked)"},
    {"conn_misses_total", &l4lb_counters::conn_misses,
     "Packets other than a SYN that found no connection-table entry"},
};

}  // namespace

std::string renderPacketMetrics(const packet::PacketNumbers& numbers) {
  MetricsText out;
  for (const CounterFamily& family : kCounterFamilies) {
    out.family(std::string("l4lb_packet_vip_") + family.suffix, Type::kCounter,
               std::string(family.help) + ", per packet-path listener (VIP).");
    for (const auto& vip : numbers.vips) {
      out.sample({{"listener", vip.listener}, {"vip", vip.vip}, {"forward", vip.forward}},
                 static_cast<std::uint64_t>(vip.counters.*family.member));
    }
  }
  for (const CounterFamily& family : kCounterFamilies) {
    out.family(std::string("l4lb_packet_backend_") + family.suffix, Type::kCounter,
               std::string(family.help) + ", per backend the program sent to.");
    for (const auto& backend : numbers.backends) {
      out.sample(
          {{"interface", backend.interface}, {"pool", backend.pool}, {"backend", backend.backend}},
          static_cast<std::uint64_t>(backend.counters.*family.member));
    }
  }
  out.family("l4lb_packet_backend_in_table", Type::kGauge,
             "1 when the backend takes new flows on the packet path (in its VIPs' Maglev tables).");
  for (const auto& backend : numbers.backends) {
    out.sample(
        {{"interface", backend.interface}, {"pool", backend.pool}, {"backend", backend.backend}},
        std::uint64_t{backend.in_table ? 1U : 0U});
  }
  out.family("l4lb_packet_events_total", Type::kCounter,
             "Packets of the XDP program's global counters, by event: fragments and ip_options "
             "(passed to the host), no_backend, fib_no_neighbour, fib_failed, too_big_dropped "
             "(dropped), too_big_answered (ICMP sent back), malformed (passed).");
  for (const auto& interface : numbers.interfaces) {
    for (std::uint32_t c = 0; c < interface.global.size(); ++c) {
      out.sample({{"interface", interface.interface}, {"event", packet::globalCounterName(c)}},
                 interface.global[c]);
    }
  }
  return out.take();
}

ApiReply Controller::packet() const {
  json body = packetJson();
  if (body.is_null()) {
    return errorReply(404, "no packet path: no listener has forward = \"dsr\" or \"ipip\"");
  }
  return ApiReply{200, std::move(body)};
}

nlohmann::json Controller::packetJson() const {
  if (!hooks_.packet) return nullptr;
  const packet::PacketNumbers numbers = hooks_.packet();
  if (numbers.interfaces.empty()) return nullptr;
  json vips = json::array();
  for (const auto& vip : numbers.vips) {
    vips.push_back(json{{"listener", vip.listener},
                        {"vip", vip.vip},
                        {"forward", vip.forward},
                        {"interface", vip.interface},
                        {"pool", vip.pool},
                        {"table_size", vip.has_table ? json(vip.table_size) : json(nullptr)},
                        {"counters", countersJson(vip.counters)}});
  }
  json backends = json::array();
  for (const auto& backend : numbers.backends) {
    backends.push_back(json{{"interface", backend.interface},
                            {"pool", backend.pool},
                            {"backend", backend.backend},
                            {"address", backend.address},
                            {"index", backend.index},
                            {"down", backend.down},
                            {"in_table", backend.in_table},
                            {"counters", countersJson(backend.counters)}});
  }
  json interfaces = json::array();
  for (const auto& interface : numbers.interfaces) {
    json events = json::object();
    for (std::uint32_t c = 0; c < interface.global.size(); ++c) {
      events[packet::globalCounterName(c)] = interface.global[c];
    }
    interfaces.push_back(json{{"interface", interface.interface},
                              {"program_id", interface.program_id},
                              {"events", std::move(events)}});
  }
  return json{{"vips", std::move(vips)},
              {"backends", std::move(backends)},
              {"interfaces", std::move(interfaces)}};
}

}  // namespace l4lb::admin
