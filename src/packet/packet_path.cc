#include "packet/packet_path.h"

#include <arpa/inet.h>
#include <fmt/format.h>
#include <net/if.h>
#include <netinet/in.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>

#include "balance/maglev_table.h"
#include "base/log.h"
#include "packet/packet_table.h"

namespace l4lb::packet {

namespace {

// IPIP's outer sources (lb_layout.h, struct l4lb_config): a prefix whose host bits vary per flow
// so the backend's receive hashing spreads flows, as Katran does. Backends decapsulating with
// `l4lb decap` accept any outer source; a kernel ipip device needs `remote any`.
constexpr std::uint32_t kEncapSource4 = 0xac100000;  // 172.16.0.0/16
constexpr std::uint32_t kEncapSource4Host = 0x0000ffff;
constexpr std::array<std::uint32_t, 4> kEncapSource6 = {0xfd004c34, 0x6c620000, 0, 0};  // /96
constexpr std::uint32_t kUdpIdleSeconds = 30;

const char* const kGlobalNames[] = {"fragments",        "ip_options", "no_backend",
                                    "fib_no_neighbour", "fib_failed", "too_big_answered",
                                    "too_big_dropped",  "malformed"};
static_assert(std::size(kGlobalNames) == L4LB_GLOBAL_COUNTERS);

l4lb_vip_key vipKeyOf(const net::Endpoint& bind) {
  l4lb_vip_key key{};
  key.proto = bind.kind == net::EndpointKind::kUdp ? IPPROTO_UDP : IPPROTO_TCP;
  if (bind.family() == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&bind.addr);
    key.addr[0] = in->sin_addr.s_addr;
    key.port = in->sin_port;
    key.family = L4LB_AF_INET;
  } else {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&bind.addr);
    std::memcpy(key.addr, &in6->sin6_addr, sizeof(key.addr));
    key.port = in6->sin6_port;
    key.family = L4LB_AF_INET6;
  }
  return key;
}

l4lb_backend backendOf(const net::Endpoint& address) {
  l4lb_backend value{};
  if (address.family() == AF_INET) {
    value.addr[0] = reinterpret_cast<const sockaddr_in*>(&address.addr)->sin_addr.s_addr;
    value.family = L4LB_AF_INET;
  } else {
    std::memcpy(value.addr, &reinterpret_cast<const sockaddr_in6*>(&address.addr)->sin6_addr,
                sizeof(value.addr));
    value.family = L4LB_AF_INET6;
  }
  return value;
}

// "1", "0", or empty when the file cannot be read.
std::string readSysctl(const std::string& path) {
  std::ifstream in(path);
  std::string value;
  if (!in || !std::getline(in, value)) return {};
  return value;
}

// The FIB lookup of the program asks the kernel to forward from `interface`: it answers
// "forwarding disabled" unless the interface forwards the backends' family. l4lb does not turn
// forwarding on by itself (it changes how the host treats every packet of the interface, and
// for IPv6 whether it takes router advertisements): it refuses, and says what to set.
base::Result<void> checkForwarding(const std::string& interface, int family) {
  const bool v6 = family == AF_INET6;
  const std::string sysctl =
      fmt::format("net.{}.conf.{}.forwarding", v6 ? "ipv6" : "ipv4", interface);
  const std::string value = readSysctl(
      fmt::format("/proc/sys/net/{}/conf/{}/forwarding", v6 ? "ipv6" : "ipv4", interface));
  if (value == "1") return {};
  return base::failure(fmt::format(
      "{} is {}: the XDP program looks up the route to each {} backend as a forwarded packet "
      "would, and the kernel answers \"forwarding disabled\" (every packet would be dropped); "
      "set it (sysctl -w {}=1{}) and start again",
      sysctl, value.empty() ? "unreadable" : value, v6 ? "IPv6" : "IPv4", sysctl,
      v6 ? ", which also stops the interface taking router advertisements" : ""));
}

std::uint32_t interfaceMtu(const std::string& name) {
  base::Fd socket(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  ifreq request{};
  std::strncpy(request.ifr_name, name.c_str(), IFNAMSIZ - 1);
  if (!socket || ::ioctl(socket.get(), SIOCGIFMTU, &request) != 0) return 0;
  return static_cast<std::uint32_t>(request.ifr_mtu);
}

std::string backendKey(const config::PoolConfig& pool, const config::BackendConfig& backend) {
  return pool.name + '\n' + backend.name + '\n' + backend.address.url;
}

bool isDown(const PacketSources& sources, std::uint32_t pool, std::uint32_t backend) {
  if (!sources.health || pool >= sources.health->pools.size()) return false;
  const auto& states = sources.health->pools[pool];
  return backend < states.size() && states[backend] == control::BackendState::kDown;
}

control::AdminState stateOf(const PacketSources& sources, std::uint32_t pool,
                            std::uint32_t backend) {
  return sources.state ? sources.state(pool, backend) : control::AdminState::kEnabled;
}

std::string addressText(const l4lb_backend& value) {
  std::array<char, INET6_ADDRSTRLEN> text{};
  const int family = value.family == L4LB_AF_INET6 ? AF_INET6 : AF_INET;
  if (::inet_ntop(family, value.addr, text.data(), text.size()) == nullptr) return {};
  return text.data();
}

}  // namespace

const char* globalCounterName(std::uint32_t counter) {
  return counter < std::size(kGlobalNames) ? kGlobalNames[counter] : "unknown";
}

PacketPath::~PacketPath() {
  std::lock_guard lock(mutex_);
  interfaces_.clear();  // each detaches its program and removes its pins, unless taken over
}

base::Result<void> PacketPath::attach(const std::string& name, int ifindex) {
  auto opened = InterfaceProgram::open(name, ifindex);
  if (!opened) return opened.error();
  auto interface = std::make_unique<Interface>(std::move(opened).value());
  interface->name = name;
  interface->ifindex = ifindex;
  for (const auto& [index, value] : interface->xdp->inherited()) {
    interface->inherited[index] = value;
    interface->next_index = std::max(interface->next_index, index + 1);
  }
  l4lb_config settings{};
  settings.encap_src4 = htonl(kEncapSource4);
  settings.encap_src4_mask = htonl(kEncapSource4Host);
  for (std::size_t i = 0; i < kEncapSource6.size(); ++i) {
    settings.encap_src6[i] = htonl(kEncapSource6[i]);
  }
  settings.encap_src6_mask = 0xffffffffU;
  settings.mtu = interfaceMtu(name);
  settings.udp_idle_s = kUdpIdleSeconds;
  if (auto set = interface->program().setConfig(settings); !set) return set.error();
  base::logInfo(
      "packet path: XDP program {} {} \"{}\" (native mode, MTU {})", interface->xdp->programId(),
      interface->xdp->tookOver() ? "loaded to take over" : "attached to", name, settings.mtu);
  interfaces_.emplace(name, std::move(interface));
  return {};
}

std::uint32_t PacketPath::claimIndex(Interface& interface, const l4lb_backend& value) {
  for (auto it = interface.inherited.begin(); it != interface.inherited.end(); ++it) {
    if (it->second.family == value.family &&
        std::memcmp(it->second.addr, value.addr, sizeof(value.addr)) == 0) {
      const std::uint32_t index = it->first;
      interface.inherited.erase(it);
      return index;
    }
  }
  if (interface.next_index >= L4LB_MAX_BACKENDS) return 0;
  return interface.next_index++;
}

base::Result<void> PacketPath::prepare(const config::Config& config) {
  std::lock_guard lock(mutex_);
  for (const auto& listener : config.listeners) {
    if (!listener.packetPath()) continue;
    const std::string where = fmt::format("listener \"{}\" (forward = \"{}\")", listener.name,
                                          config::forwardName(listener.forward));
    const unsigned ifindex = ::if_nametoindex(listener.interface.c_str());
    if (ifindex == 0) {
      return base::lastError("if_nametoindex")
          .within(fmt::format("{}: interface \"{}\"", where, listener.interface));
    }
    const auto& pool = config.pools[listener.pool_index];
    for (const auto& backend : pool.backends) {
      if (auto ok = checkForwarding(listener.interface, backend.address.family()); !ok) {
        return ok.error().within(where);
      }
    }
    auto found = interfaces_.find(listener.interface);
    if (found != interfaces_.end() && found->second->ifindex == static_cast<int>(ifindex)) {
      continue;
    }
    if (found != interfaces_.end()) {
      // The interface was made anew (its program went with the old one): start it over.
      for (Vip& vip : vips_) {
        if (vip.interface == found->second.get()) vip.interface = nullptr;
      }
      interfaces_.erase(found);
    }
    if (auto attached = attach(listener.interface, static_cast<int>(ifindex)); !attached) {
      return attached.error().within(where);
    }
  }
  return {};
}

void PacketPath::configure(const config::Config& config, const PacketSources& sources) {
  std::lock_guard lock(mutex_);
  config_ = std::make_unique<config::Config>(config);
  std::vector<Vip> next;
  for (auto& [name, interface] : interfaces_) {
    for (auto& [key, backend] : interface->backends) backend.in_config = false;
  }
  for (const auto& listener : config_->listeners) {
    if (!listener.packetPath()) continue;
    auto found = interfaces_.find(listener.interface);
    if (found == interfaces_.end()) continue;  // prepare() refused the config
    Interface& interface = *found->second;
    Vip vip;
    vip.listener = listener.index;
    vip.key = listener.name + '\n' + listener.bind.url + '\n' + interface.name;
    vip.interface = &interface;
    vip.map_key = vipKeyOf(listener.bind);
    // The same VIP keeps its id (and with it its table and counters) over a reload.
    bool kept = false;
    for (auto& old : vips_) {
      if (old.key != vip.key || old.interface != &interface) continue;
      vip.id = old.id;
      vip.built_from = std::move(old.built_from);
      vip.written = old.written;
      vip.table_size = old.table_size;
      old.key.clear();  // taken
      kept = true;
      break;
    }
    if (!kept) {
      if (!interface.free_vip_ids.empty()) {
        vip.id = interface.free_vip_ids.front();
        interface.free_vip_ids.erase(interface.free_vip_ids.begin());
      } else if (interface.next_vip_id < L4LB_MAX_VIPS) {
        vip.id = interface.next_vip_id++;
      } else {
        base::logError("packet path: listener \"{}\": more than {} VIPs on \"{}\"; not served",
                       listener.name, L4LB_MAX_VIPS, interface.name);
        continue;
      }
    }
    const auto& pool = config_->pools[listener.pool_index];
    for (const auto& backend : pool.backends) {
      Backend& entry = interface.backends[backendKey(pool, backend)];
      if (entry.index == 0) {
        entry.value = backendOf(backend.address);
        entry.index = claimIndex(interface, entry.value);
        if (entry.index == 0) {
          base::logError("packet path: more than {} backends on \"{}\"", L4LB_MAX_BACKENDS - 1,
                         interface.name);
          vip.indexes.push_back(0);
          continue;
        }
        entry.pool = pool.name;
        entry.name = backend.name;
        entry.address = backend.address.url;
      }
      entry.in_config = true;
      vip.indexes.push_back(entry.index);
    }
    if (kept) {
      // A changed backend list changes the table even when the weights did not.
      vip.built_from.clear();
      vip.written = false;
    }
    l4lb_vip value{.id = vip.id, .flags = 0};
    if (listener.forward == config::Forward::kIpip) value.flags |= L4LB_VIP_IPIP;
    if (pool.hash_key == balance::HashKey::kClientIpPort) value.flags |= L4LB_VIP_HASH_PORT;
    // The table first: a VIP that appears finds its table ready.
    next.push_back(std::move(vip));
    writeTable(next.back(), sources);
    if (auto set = interface.program().setVip(next.back().map_key, value); !set) {
      base::logError("packet path: listener \"{}\": {}", listener.name, set.error().message());
    }
  }
  // VIPs no listener serves any more: their packets go to the host again.
  for (auto& old : vips_) {
    if (old.key.empty() || old.interface == nullptr) continue;
    (void)old.interface->program().removeVip(old.map_key);
    (void)old.interface->program().removeTable(old.id);
    old.interface->free_vip_ids.push_back(old.id);
  }
  vips_ = std::move(next);
  // Indexes the earlier program used that no backend of this config took: their flows go on
  // (drained, as a backend a reload removed), and the indexes are not given to another.
  for (auto& [name, interface] : interfaces_) {
    for (const auto& [index, value] : interface->inherited) {
      Backend& entry = interface->backends[fmt::format("\n\nindex {}", index)];
      entry.index = index;
      entry.pool = "";
      entry.name = fmt::format("index {}", index);
      entry.address = addressText(value);
      entry.value = value;
    }
    interface->inherited.clear();
  }
  // Interfaces no listener names: detached.
  for (auto it = interfaces_.begin(); it != interfaces_.end();) {
    const bool used = std::any_of(vips_.begin(), vips_.end(), [&](const Vip& vip) {
      return vip.interface == it->second.get();
    });
    if (used) {
      ++it;
    } else {
      base::logInfo("packet path: XDP program detached from \"{}\" (no listener names it)",
                    it->first);
      it = interfaces_.erase(it);
    }
  }
  updateLocked(sources);
  // Everything written: a taken-over link gets the new program now.
  for (auto& [name, interface] : interfaces_) {
    if (auto served = interface->xdp->serve(); !served) {
      base::logError("packet path: {}", served.error().message());
    }
    if (committed_) interface->xdp->commit();
  }
}

void PacketPath::commit() {
  std::lock_guard lock(mutex_);
  committed_ = true;
  for (auto& [name, interface] : interfaces_) interface->xdp->commit();
}

void PacketPath::update(const PacketSources& sources) {
  std::lock_guard lock(mutex_);
  updateLocked(sources);
}

void PacketPath::writeTable(Vip& vip, const PacketSources& sources) {
  if (vip.interface == nullptr) return;  // its interface went away; configure() drops it
  const auto& listener = config_->listeners[vip.listener];
  const auto& pool = config_->pools[listener.pool_index];
  const std::uint32_t p = listener.pool_index;
  std::vector<bool> usable(pool.backends.size());
  std::vector<std::uint32_t> weights(pool.backends.size());
  for (std::uint32_t b = 0; b < pool.backends.size(); ++b) {
    usable[b] = vip.indexes[b] != 0 && !isDown(sources, p, b) &&
                control::adminAllowsNew(stateOf(sources, p, b));
    weights[b] = sources.weight ? sources.weight(p, b) : pool.backends[b].weight;
  }
  const std::vector<balance::BackendSlot> slots = packetSlots(pool, weights, usable);
  std::vector<std::uint32_t> built_from;
  for (const auto& slot : slots) built_from.push_back(slot.weight);
  if (vip.written && built_from == vip.built_from) return;
  const balance::MaglevTable table(slots, pool.maglev_table_size);
  base::Result<void> written;
  if (table.empty()) {
    written = vip.interface->program().removeTable(vip.id);
    if (!written && written.error().code == ENOENT) written = {};
    vip.table_size = 0;
  } else {
    vip.table_size = table.size();
    written = vip.interface->program().setTable(vip.id, bpf::tableSlots(table, vip.indexes));
  }
  if (!written) {
    base::logError("packet path: listener \"{}\": table not written (retried): {}", listener.name,
                   written.error().message());
    vip.written = false;
    return;
  }
  vip.built_from = std::move(built_from);
  vip.written = true;
  for (std::uint32_t b = 0; b < pool.backends.size(); ++b) {
    if (vip.indexes[b] == 0) continue;
    vip.interface->backends[backendKey(pool, pool.backends[b])].in_table = vip.built_from[b] > 0;
  }
}

void PacketPath::updateLocked(const PacketSources& sources) {
  if (!config_) return;
  // Tables first, then flags: a flow whose backend went down re-picks from a table that no
  // longer has it.
  // A binary upgrade's new process serves these now (some maps are shared): hands off. Asked
  // once per interface and update (one system call each).
  std::set<const Interface*> replaced;
  for (const auto& [name, interface] : interfaces_) {
    if (interface->xdp->replaced()) replaced.insert(interface.get());
  }
  for (Vip& vip : vips_) {
    if (vip.interface != nullptr && !replaced.contains(vip.interface)) writeTable(vip, sources);
  }
  std::map<std::string, std::uint8_t> flags;  // by backend key
  for (std::uint32_t p = 0; p < config_->pools.size(); ++p) {
    const auto& pool = config_->pools[p];
    for (std::uint32_t b = 0; b < pool.backends.size(); ++b) {
      std::uint8_t f = 0;
      if (isDown(sources, p, b)) f |= L4LB_BACKEND_DOWN;
      if (!control::adminAllowsNew(stateOf(sources, p, b))) f |= L4LB_BACKEND_DRAIN;
      flags[backendKey(pool, pool.backends[b])] = f;
    }
  }
  for (auto& [name, interface] : interfaces_) {
    if (replaced.contains(interface.get())) continue;
    for (auto& [key, backend] : interface->backends) {
      // A backend no config has any more keeps carrying its flows: draining.
      const auto found = flags.find(key);
      std::uint8_t f = L4LB_BACKEND_DRAIN;
      if (backend.in_config && found != flags.end()) f = found->second;
      if (!backend.in_config) backend.in_table = false;
      if (backend.written && backend.value.flags == f) continue;
      backend.value.flags = f;
      if (auto set = interface->program().setBackend(backend.index, backend.value); !set) {
        base::logError("packet path: backend \"{}\" of pool \"{}\": {} (retried)", backend.name,
                       backend.pool, set.error().message());
        backend.written = false;
        continue;
      }
      backend.written = true;
    }
  }
}

bool PacketPath::empty() const {
  std::lock_guard lock(mutex_);
  return interfaces_.empty();
}

PacketNumbers PacketPath::numbers() const {
  std::lock_guard lock(mutex_);
  PacketNumbers out;
  if (!config_) return out;
  for (const Vip& vip : vips_) {
    if (vip.interface == nullptr) continue;
    const auto& listener = config_->listeners[vip.listener];
    VipNumbers n{.listener = listener.name,
                 .vip = listener.bind.url,
                 .forward = std::string(config::forwardName(listener.forward)),
                 .interface = vip.interface->name,
                 .pool = listener.pool,
                 .has_table = vip.table_size > 0,
                 .table_size = vip.table_size};
    if (auto counters = vip.interface->program().vipCounters(vip.id)) n.counters = *counters;
    out.vips.push_back(std::move(n));
  }
  for (const auto& [name, interface] : interfaces_) {
    for (const auto& [key, backend] : interface->backends) {
      BackendNumbers n{.interface = name,
                       .pool = backend.pool,
                       .backend = backend.name,
                       .address = backend.address,
                       .index = backend.index,
                       .down = (backend.value.flags & L4LB_BACKEND_DOWN) != 0,
                       .in_table = backend.in_table};
      if (auto counters = interface->program().backendCounters(backend.index)) {
        n.counters = *counters;
      }
      out.backends.push_back(std::move(n));
    }
    InterfaceNumbers n{.interface = name, .program_id = interface->xdp->programId(), .global = {}};
    for (std::uint32_t c = 0; c < L4LB_GLOBAL_COUNTERS; ++c) {
      auto value = interface->program().globalCounter(static_cast<l4lb_global_counter>(c));
      n.global.push_back(value ? *value : 0);
    }
    out.interfaces.push_back(std::move(n));
  }
  return out;
}

}  // namespace l4lb::packet
