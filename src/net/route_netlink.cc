#include "net/route_netlink.h"

#include <linux/if_addr.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <functional>

namespace l4lb::net {

namespace {

// The netlink macros cast C-style; these walk the same layout.
constexpr std::size_t kHeaderLength = NLMSG_ALIGN(sizeof(nlmsghdr));
constexpr std::size_t kAddrLength = NLMSG_ALIGN(sizeof(ifaddrmsg));

// One RTM_*ADDR request: the header, the ifaddrmsg, and an IFA_LOCAL and an IFA_ADDRESS
// attribute of up to 16 bytes each.
struct AddressRequest {
  alignas(nlmsghdr) std::array<char, 128> bytes{};
  std::size_t length = 0;

  void appendAttribute(unsigned short type, const void* data, std::size_t size) {
    rtattr attr{};
    attr.rta_type = type;
    attr.rta_len = static_cast<unsigned short>(RTA_LENGTH(size));
    std::memcpy(bytes.data() + length, &attr, sizeof(attr));
    std::memcpy(bytes.data() + length + RTA_LENGTH(0), data, size);
    length += RTA_ALIGN(attr.rta_len);
  }
};

std::size_t addressBytes(int family) { return family == AF_INET6 ? 16 : 4; }

// Reads answers to request `sequence` until its ack (or, for a dump, NLMSG_DONE), handing every
// other message to `each`.
base::Result<void> readAnswers(int fd, unsigned sequence,
                               const std::function<void(const nlmsghdr&)>& each) {
  alignas(nlmsghdr) std::array<char, 16384> buffer{};
  for (;;) {
    const ssize_t got = ::recv(fd, buffer.data(), buffer.size(), 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return base::lastError("recv(NETLINK_ROUTE)");
    }
    std::size_t offset = 0;
    while (offset + sizeof(nlmsghdr) <= static_cast<std::size_t>(got)) {
      nlmsghdr header{};
      std::memcpy(&header, buffer.data() + offset, sizeof(header));
      if (header.nlmsg_len < sizeof(nlmsghdr) ||
          offset + header.nlmsg_len > static_cast<std::size_t>(got)) {
        return base::failure("NETLINK_ROUTE: truncated answer");
      }
      const char* message = buffer.data() + offset;
      offset += NLMSG_ALIGN(header.nlmsg_len);
      if (header.nlmsg_seq != sequence) continue;  // a late answer to an earlier request
      if (header.nlmsg_type == NLMSG_DONE) return {};
      if (header.nlmsg_type == NLMSG_ERROR) {
        nlmsgerr error{};
        if (header.nlmsg_len < kHeaderLength + sizeof(error)) {
          return base::failure("NETLINK_ROUTE: short error answer");
        }
        std::memcpy(&error, message + kHeaderLength, sizeof(error));
        if (error.error == 0) return {};  // the ack
        return base::sysError(-error.error, "NETLINK_ROUTE");
      }
      each(*reinterpret_cast<const nlmsghdr*>(message));
    }
  }
}

}  // namespace

base::Result<RouteNetlink> RouteNetlink::open() {
  base::Fd fd(::socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE));
  if (!fd) return base::lastError("socket(NETLINK_ROUTE)");
  sockaddr_nl local{};
  local.nl_family = AF_NETLINK;
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&local), sizeof(local)) != 0) {
    return base::lastError("bind(NETLINK_ROUTE)");
  }
  return RouteNetlink(std::move(fd));
}

base::Result<void> RouteNetlink::changeAddress(int type, int flags, int ifindex,
                                               const Cidr& address) {
  AddressRequest request;
  nlmsghdr header{};
  header.nlmsg_type = static_cast<unsigned short>(type);
  header.nlmsg_flags = static_cast<unsigned short>(NLM_F_REQUEST | NLM_F_ACK | flags);
  header.nlmsg_seq = ++sequence_;
  ifaddrmsg body{};
  body.ifa_family = static_cast<unsigned char>(address.family);
  body.ifa_prefixlen = static_cast<unsigned char>(address.prefix_len);
  body.ifa_flags = address.family == AF_INET6 ? IFA_F_NODAD : 0;
  body.ifa_scope = RT_SCOPE_UNIVERSE;
  body.ifa_index = static_cast<unsigned>(ifindex);
  request.length = kHeaderLength;
  std::memcpy(request.bytes.data() + request.length, &body, sizeof(body));
  request.length += kAddrLength;
  const std::size_t size = addressBytes(address.family);
  request.appendAttribute(IFA_LOCAL, address.bytes.data(), size);
  request.appendAttribute(IFA_ADDRESS, address.bytes.data(), size);
  header.nlmsg_len = static_cast<unsigned>(request.length);
  std::memcpy(request.bytes.data(), &header, sizeof(header));

  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd_.get(), request.bytes.data(), request.length, 0,
               reinterpret_cast<const sockaddr*>(&kernel), sizeof(kernel)) < 0) {
    return base::lastError("sendto(NETLINK_ROUTE)");
  }
  return readAnswers(fd_.get(), header.nlmsg_seq, [](const nlmsghdr&) {});
}

base::Result<void> RouteNetlink::addAddress(int ifindex, const Cidr& address) {
  auto added = changeAddress(RTM_NEWADDR, NLM_F_CREATE | NLM_F_REPLACE, ifindex, address);
  if (!added && added.error().code == EEXIST) return {};
  if (!added) return added.error().within("add address " + formatCidr(address));
  return {};
}

base::Result<void> RouteNetlink::removeAddress(int ifindex, const Cidr& address) {
  auto removed = changeAddress(RTM_DELADDR, 0, ifindex, address);
  if (!removed && (removed.error().code == EADDRNOTAVAIL || removed.error().code == ENODEV)) {
    return {};
  }
  if (!removed) return removed.error().within("remove address " + formatCidr(address));
  return {};
}

base::Result<std::vector<Cidr>> RouteNetlink::addresses(int ifindex) {
  struct {
    nlmsghdr header;
    ifaddrmsg body;
  } request{};
  request.header.nlmsg_len = sizeof(request);
  request.header.nlmsg_type = RTM_GETADDR;
  request.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  request.header.nlmsg_seq = ++sequence_;
  request.body.ifa_family = AF_UNSPEC;
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd_.get(), &request, sizeof(request), 0, reinterpret_cast<const sockaddr*>(&kernel),
               sizeof(kernel)) < 0) {
    return base::lastError("sendto(NETLINK_ROUTE)");
  }
  std::vector<Cidr> found;
  auto read = readAnswers(fd_.get(), request.header.nlmsg_seq, [&](const nlmsghdr& header) {
    if (header.nlmsg_type != RTM_NEWADDR || header.nlmsg_len < kHeaderLength + sizeof(ifaddrmsg)) {
      return;
    }
    const char* base = reinterpret_cast<const char*>(&header);
    ifaddrmsg body{};
    std::memcpy(&body, base + kHeaderLength, sizeof(body));
    if (static_cast<int>(body.ifa_index) != ifindex) return;
    // IFA_LOCAL is the address itself (IFA_ADDRESS the peer's on point-to-point links); IPv6
    // sends IFA_ADDRESS alone.
    Cidr address;
    address.family = body.ifa_family;
    address.prefix_len = body.ifa_prefixlen;
    bool have = false;
    std::size_t offset = kHeaderLength + kAddrLength;
    while (offset + sizeof(rtattr) <= header.nlmsg_len) {
      rtattr attr{};
      std::memcpy(&attr, base + offset, sizeof(attr));
      if (attr.rta_len < sizeof(rtattr) || offset + attr.rta_len > header.nlmsg_len) break;
      const std::size_t size = attr.rta_len - RTA_LENGTH(0);
      const bool fits = size == addressBytes(body.ifa_family);
      if (fits && (attr.rta_type == IFA_LOCAL || (attr.rta_type == IFA_ADDRESS && !have))) {
        std::memcpy(address.bytes.data(), base + offset + RTA_LENGTH(0), size);
        have = true;
      }
      offset += RTA_ALIGN(attr.rta_len);
    }
    if (have) found.push_back(address);
  });
  if (!read) return read.error();
  return found;
}

}  // namespace l4lb::net
