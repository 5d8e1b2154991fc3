#include "app/announcer.h"

#include <netinet/in.h>

#include <algorithm>
#include <cstring>

#include "base/log.h"
#include "io/clock.h"

namespace l4lb::app {

namespace {

constexpr std::int64_t kFailureLogMillis = 60'000;

bool contains(const std::vector<net::Cidr>& list, const net::Cidr& address) {
  return std::find(list.begin(), list.end(), address) != list.end();
}

std::string addressText(const net::Cidr& address) {
  std::string text = net::formatCidr(address);
  return text.substr(0, text.find('/'));
}

}  // namespace

net::Cidr hostAddressOf(const net::Endpoint& endpoint) {
  net::Cidr address;
  address.family = endpoint.family();
  if (address.family == AF_INET6) {
    const auto& in6 = reinterpret_cast<const sockaddr_in6*>(&endpoint.addr)->sin6_addr;
    std::memcpy(address.bytes.data(), &in6, 16);
    address.prefix_len = 128;
  } else {
    const auto& in4 = reinterpret_cast<const sockaddr_in*>(&endpoint.addr)->sin_addr;
    std::memcpy(address.bytes.data(), &in4, 4);
    address.prefix_len = 32;
  }
  return address;
}

base::Result<std::unique_ptr<Announcer>> Announcer::open(const config::Config& config,
                                                         base::Fd handed) {
  std::optional<net::TunDevice> taken;
  if (handed.valid()) {
    auto adopted = net::TunDevice::adopt(std::move(handed));
    if (!adopted) return adopted.error();
    if (adopted->name() == config.global.announce_interface) {
      taken.emplace(std::move(adopted).value());
    } else {
      // Another name now: the old interface goes with the old process, withdrawing its VIPs.
      base::logWarn(
          "announce interface: \"{}\" of the old process is left to it, this one uses "
          "\"{}\"",
          adopted->name(), config.global.announce_interface);
    }
  }
  const bool adopted = taken.has_value();
  auto device = adopted ? base::Result<net::TunDevice>(std::move(*taken))
                        : net::TunDevice::create(config.global.announce_interface);
  if (!device) return device.error();
  auto netlink = net::RouteNetlink::open();
  if (!netlink) return netlink.error().within("announce interface");
  std::vector<net::Cidr> present;
  if (adopted) {
    auto found = netlink->addresses(device->index());
    if (!found) return found.error().within("announce interface \"" + device->name() + "\"");
    present = std::move(found).value();
  }
  std::unique_ptr<Announcer> announcer(
      new Announcer(std::move(device).value(), std::move(netlink).value(), std::move(present)));
  announcer->adopted_ = adopted;
  return announcer;
}

void Announcer::configure(const config::Config& config, std::int64_t now_ms) {
  config_ = &config;
  const control::AnnounceTiming timing{.hold_down = config.global.announce_hold_down,
                                       .hold_down_max = config.global.announce_hold_down_max};
  std::vector<Vip> next;
  for (const auto& listener : config.listeners) {
    if (!listener.announce) continue;
    const net::Cidr address = hostAddressOf(listener.bind);
    auto kept = std::find_if(vips_.begin(), vips_.end(), [&](const Vip& vip) {
      return vip.listener == listener.name && vip.address == address;
    });
    Vip vip = kept != vips_.end() ? std::move(*kept)
                                  : Vip{.listener = listener.name,
                                        .pool = 0,
                                        .address = address,
                                        .address_text = addressText(address),
                                        .min_backends = 1,
                                        .state = control::AnnounceState(timing),
                                        .backends_up = 0,
                                        .discovery = {}};
    vip.pool = listener.pool_index;
    vip.min_backends = listener.announce_min_backends.value_or(config.global.announce_min_backends);
    // Found on the handed interface: announced by the process before this one.
    if (kept == vips_.end() && contains(present_, address)) vip.state.assumeAnnounced(now_ms);
    next.push_back(std::move(vip));
  }
  vips_ = std::move(next);
}

void Announcer::update(std::int64_t now_ms, const AnnounceSources& sources) {
  if (handed_off_ || config_ == nullptr) return;
  for (Vip& vip : vips_) {
    const auto& pool = config_->pools[vip.pool];
    const auto backend_count = static_cast<std::uint32_t>(pool.backends.size());
    std::vector<control::AdminState> admin;
    if (sources.backend_state) {
      admin.reserve(backend_count);
      for (std::uint32_t b = 0; b < backend_count; ++b) {
        admin.push_back(sources.backend_state(vip.pool, b));
      }
    }
    vip.backends_up =
        control::backendsUp(sources.health.get(), sources.backend_state ? &admin : nullptr,
                            vip.pool, backend_count, pool.health.has_value());
    const auto unsynced = sources.discovery_unsynced.find(pool.name);
    vip.discovery = unsynced != sources.discovery_unsynced.end() ? unsynced->second : "";
    const control::AnnounceInputs inputs{
        .serving = serving_,
        .backends_up = vip.backends_up,
        .min_backends = vip.min_backends,
        .operator_withdrawn =
            sources.listener_withdrawn && sources.listener_withdrawn(vip.listener),
        .stopping = stopping_,
        .discovery_synced = unsynced == sources.discovery_unsynced.end()};
    if (!vip.state.update(inputs, now_ms)) continue;
    if (vip.state.announced()) {
      base::logInfo("listener \"{}\": VIP {} announced on {} ({} of {} backends up)", vip.listener,
                    vip.address_text, device_.name(), vip.backends_up, backend_count);
    } else {
      base::logInfo("listener \"{}\": VIP {} withdrawn: {} ({} of {} backends up, {} needed)",
                    vip.listener, vip.address_text, control::withdrawReasonName(vip.state.reason()),
                    vip.backends_up, backend_count, vip.min_backends);
    }
  }
  reconcile(now_ms);
  publishViews(now_ms);
}

bool Announcer::stop(std::int64_t now_ms) {
  if (handed_off_) return false;  // the new process's to withdraw
  const bool any =
      std::any_of(vips_.begin(), vips_.end(), [](const Vip& vip) { return vip.state.announced(); });
  stopping_ = true;
  update(now_ms, AnnounceSources{});
  return any;
}

void Announcer::reconcile(std::int64_t now_ms) {
  std::vector<net::Cidr> wanted;
  for (const Vip& vip : vips_) {
    if (vip.state.announced() && !contains(wanted, vip.address)) wanted.push_back(vip.address);
  }
  auto fail = [&](const base::Error& error) {
    std::string message = error.message();
    if (message == last_failure_ && now_ms - last_failure_ms_ < kFailureLogMillis) return;
    base::logError("announce interface \"{}\": {} (tried again at each update)", device_.name(),
                   message);
    last_failure_ = std::move(message);
    last_failure_ms_ = now_ms;
  };
  for (const net::Cidr& address : wanted) {
    if (contains(present_, address)) continue;
    if (auto added = netlink_.addAddress(device_.index(), address); !added) {
      fail(added.error());
    } else {
      present_.push_back(address);
    }
  }
  for (auto it = present_.begin(); it != present_.end();) {
    if (contains(wanted, *it)) {
      ++it;
    } else if (auto removed = netlink_.removeAddress(device_.index(), *it); !removed) {
      fail(removed.error());
      ++it;
    } else {
      it = present_.erase(it);
    }
  }
}

void Announcer::publishViews(std::int64_t now_ms) {
  std::vector<control::AnnounceView> views;
  const std::int64_t wall_now = control::wallClockMillis();
  for (const Vip& vip : vips_) {
    const bool held = vip.state.reason() == control::WithdrawReason::kHoldDown;
    views.push_back(control::AnnounceView{
        .listener = vip.listener,
        .vip = vip.address_text,
        .announced = vip.state.announced(),
        .reason = vip.state.reason(),
        .backends_up = vip.backends_up,
        .min_backends = vip.min_backends,
        .hold_down_until_unix_ms = held ? wall_now + (vip.state.holdDownUntil() - now_ms) : 0,
        .hold_down_ms = vip.state.holdDown().count(),
        .changes = vip.state.changes(),
        .discovery = vip.state.reason() == control::WithdrawReason::kDiscoveryNotSynced
                         ? vip.discovery
                         : std::string()});
  }
  std::lock_guard lock(views_mutex_);
  views_ = std::move(views);
}

std::vector<control::AnnounceView> Announcer::views() const {
  std::lock_guard lock(views_mutex_);
  return views_;
}

}  // namespace l4lb::app
