#include "net/tun_device.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <linux/if_tun.h>
#include <net/if.h>
#include <sys/ioctl.h>
#include <sys/socket.h>

#include <algorithm>
#include <cctype>
#include <cstring>

namespace l4lb::net {

namespace {

// An AF_INET datagram socket: what SIOCGIFFLAGS / SIOCSIFFLAGS are asked through.
base::Result<base::Fd> ioctlSocket() {
  base::Fd fd(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (!fd) return base::lastError("socket");
  return fd;
}

base::Result<void> bringUp(const std::string& name) {
  auto sock = ioctlSocket();
  if (!sock) return sock.error();
  ifreq request{};
  std::memcpy(request.ifr_name, name.data(), name.size());
  if (::ioctl(sock->get(), SIOCGIFFLAGS, &request) != 0) return base::lastError("SIOCGIFFLAGS");
  request.ifr_flags = static_cast<short>(request.ifr_flags | IFF_UP);
  if (::ioctl(sock->get(), SIOCSIFFLAGS, &request) != 0) return base::lastError("SIOCSIFFLAGS");
  return {};
}

void disableLinkLocal(const std::string& name) {
  const std::string path = "/proc/sys/net/ipv6/conf/" + name + "/addr_gen_mode";
  base::Fd fd(::open(path.c_str(), O_WRONLY | O_CLOEXEC));
  if (fd) (void)!::write(fd.get(), "1", 1);  // IN6_ADDR_GEN_MODE_NONE
}

}  // namespace

bool validInterfaceName(std::string_view name) {
  if (name.empty() || name.size() >= IFNAMSIZ || name == "." || name == "..") return false;
  return std::none_of(name.begin(), name.end(), [](char c) {
    return c == '/' || c == ':' || std::isspace(static_cast<unsigned char>(c)) != 0 ||
           std::iscntrl(static_cast<unsigned char>(c)) != 0;
  });
}

base::Result<TunDevice> TunDevice::create(std::string_view name) {
  const std::string context = fmt::format("announce interface \"{}\"", name);
  if (!validInterfaceName(name)) return base::failure(context + ": not a valid interface name");
  // TUNSETIFF on a name that exists attaches to it when we may: refuse instead, so the interface
  // l4lb announces through is always one whose life it owns.
  if (::if_nametoindex(std::string(name).c_str()) != 0) {
    return base::failure(context +
                         ": an interface of that name exists already (another l4lb, or a "
                         "persistent one: `ip link del` it)");
  }
  base::Fd fd(::open("/dev/net/tun", O_RDWR | O_CLOEXEC | O_NONBLOCK));
  if (!fd) return base::lastError("open /dev/net/tun").within(context);
  ifreq request{};
  request.ifr_flags = IFF_TUN | IFF_NO_PI;
  std::memcpy(request.ifr_name, name.data(), name.size());
  if (::ioctl(fd.get(), TUNSETIFF, &request) != 0) {
    return base::lastError("TUNSETIFF").within(context);
  }
  // No TUNSETPERSIST: the interface dies with the last descriptor.
  std::string made(request.ifr_name, ::strnlen(request.ifr_name, IFNAMSIZ));
  // No IPv6 link-local address: the interface carries only the VIPs l4lb puts on it, and sends
  // nothing (no router solicitations, no MLD reports queued on a descriptor never read). Best
  // effort: without IPv6 the file is absent, and a link-local address would do no harm.
  disableLinkLocal(made);
  if (auto up = bringUp(made); !up) return up.error().within(context);
  const auto index = static_cast<int>(::if_nametoindex(made.c_str()));
  if (index == 0) return base::lastError("if_nametoindex").within(context);
  return TunDevice(std::move(fd), std::move(made), index);
}

base::Result<TunDevice> TunDevice::adopt(base::Fd fd) {
  ifreq request{};
  if (::ioctl(fd.get(), TUNGETIFF, &request) != 0) {
    return base::lastError("TUNGETIFF").within("handed announce interface");
  }
  std::string name(request.ifr_name, ::strnlen(request.ifr_name, IFNAMSIZ));
  const auto index = static_cast<int>(::if_nametoindex(name.c_str()));
  if (index == 0) {
    return base::lastError("if_nametoindex").within(fmt::format("announce interface \"{}\"", name));
  }
  return TunDevice(std::move(fd), std::move(name), index);
}

}  // namespace l4lb::net
