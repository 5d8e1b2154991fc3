#pragma once

// A NETLINK_ROUTE socket for the one thing l4lb changes in the kernel's routing state: the host
// addresses (/32, /128) on its announce interface (net/tun_device.h). Each request waits for the
// kernel's acknowledgement, so a change is made, or its errno is known, before the call returns.
// Control plane only (the main thread): the calls block for the kernel's answer (microseconds).

#include <vector>

#include "base/fd.h"
#include "base/result.h"
#include "net/cidr.h"

namespace l4lb::net {

class RouteNetlink {
 public:
  [[nodiscard]] static base::Result<RouteNetlink> open();

  // Puts `address` (a /32 or /128 Cidr) on interface `ifindex`; already there is success. IPv6
  // addresses are added with IFA_F_NODAD: usable (and exported) at once, never "tentative".
  [[nodiscard]] base::Result<void> addAddress(int ifindex, const Cidr& address);
  // Takes `address` off `ifindex`; not there is success.
  [[nodiscard]] base::Result<void> removeAddress(int ifindex, const Cidr& address);
  // The addresses on `ifindex`, both families.
  [[nodiscard]] base::Result<std::vector<Cidr>> addresses(int ifindex);

 private:
  explicit RouteNetlink(base::Fd fd) : fd_(std::move(fd)) {}
  [[nodiscard]] base::Result<void> changeAddress(int type, int flags, int ifindex,
                                                 const Cidr& address);

  base::Fd fd_;
  unsigned sequence_ = 0;
};

}  // namespace l4lb::net
