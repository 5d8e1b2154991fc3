#include "net/socket_holders.h"

#include <dirent.h>
#include <fmt/format.h>
#include <linux/inet_diag.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <linux/sock_diag.h>
#include <linux/unix_diag.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <functional>
#include <mutex>
#include <set>
#include <string_view>

#include "base/fd.h"

namespace l4lb::net {

namespace {

std::mutex handed_mutex;
std::set<std::uint64_t> handed_inodes;  // guarded by handed_mutex

// The inode of "socket:[123]", 0 when the link names something else.
std::uint64_t socketInode(const char* link) {
  std::uint64_t inode = 0;
  if (std::sscanf(link, "socket:[%lu]", &inode) != 1) return 0;
  return inode;
}

// Calls `each` with the inode of every socket in /proc/PID/fd (PID "self" for this process).
void forEachSocketOf(const std::string& pid, const std::function<void(std::uint64_t)>& each) {
  const std::string dir = "/proc/" + pid + "/fd";
  DIR* fds = ::opendir(dir.c_str());
  if (fds == nullptr) return;  // gone, or another user's
  while (const dirent* entry = ::readdir(fds)) {
    if (entry->d_name[0] == '.') continue;
    std::array<char, 64> link{};
    const std::string path = dir + "/" + entry->d_name;
    if (::readlink(path.c_str(), link.data(), link.size() - 1) <= 0) continue;
    if (const std::uint64_t inode = socketInode(link.data()); inode != 0) each(inode);
  }
  ::closedir(fds);
}

std::set<std::uint64_t> ownInodes() {
  std::set<std::uint64_t> own;
  forEachSocketOf("self", [&](std::uint64_t inode) { own.insert(inode); });
  std::lock_guard lock(handed_mutex);
  own.insert(handed_inodes.begin(), handed_inodes.end());
  return own;
}

// Fills each socket's holders from /proc: every process this one may look into.
void findHolders(std::vector<OtherSocket>& others) {
  if (others.empty()) return;
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return;
  while (const dirent* entry = ::readdir(proc)) {
    if (entry->d_name[0] < '1' || entry->d_name[0] > '9') continue;
    const std::string pid = entry->d_name;
    std::string command;
    forEachSocketOf(pid, [&](std::uint64_t inode) {
      for (auto& other : others) {
        if (other.inode != inode) continue;
        const pid_t holder = static_cast<pid_t>(std::stol(pid));
        const bool known = std::any_of(other.holders.begin(), other.holders.end(),
                                       [&](const SocketHolder& h) { return h.pid == holder; });
        if (known) continue;
        if (command.empty()) {
          std::ifstream comm("/proc/" + pid + "/comm");
          std::getline(comm, command);
        }
        other.holders.push_back(SocketHolder{holder, command});
      }
    });
  }
  ::closedir(proc);
}

// The netlink macros cast C-style; these walk the same layout.
constexpr std::size_t kHeaderLength = NLMSG_ALIGN(sizeof(nlmsghdr));

template <typename Payload>
const Payload* payloadOf(const nlmsghdr& header) {
  if (header.nlmsg_len < kHeaderLength + sizeof(Payload)) return nullptr;
  return reinterpret_cast<const Payload*>(reinterpret_cast<const char*>(&header) + kHeaderLength);
}

// Calls `each` with every attribute (type, bytes) after a message's fixed part of `fixed` bytes.
void forEachAttribute(const nlmsghdr& header, std::size_t fixed,
                      const std::function<void(unsigned, std::string_view)>& each) {
  const char* message = reinterpret_cast<const char*>(&header);
  std::size_t offset = kHeaderLength + NLMSG_ALIGN(fixed);
  while (offset + sizeof(rtattr) <= header.nlmsg_len) {
    rtattr attr{};
    std::memcpy(&attr, message + offset, sizeof(attr));
    if (attr.rta_len < sizeof(rtattr) || offset + attr.rta_len > header.nlmsg_len) return;
    const std::size_t data = RTA_ALIGN(sizeof(rtattr));
    each(attr.rta_type, std::string_view(message + offset + data, attr.rta_len - data));
    offset += RTA_ALIGN(attr.rta_len);
  }
}

// One NETLINK_SOCK_DIAG dump: sends `request` and calls `each` with every answer.
base::Result<void> dump(const void* request, std::size_t size,
                        const std::function<void(const nlmsghdr&)>& each) {
  base::Fd fd(::socket(AF_NETLINK, SOCK_DGRAM | SOCK_CLOEXEC, NETLINK_SOCK_DIAG));
  if (!fd) return base::lastError("socket(NETLINK_SOCK_DIAG)");
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  if (::sendto(fd.get(), request, size, 0, reinterpret_cast<const sockaddr*>(&kernel),
               sizeof(kernel)) < 0) {
    return base::lastError("sendto(NETLINK_SOCK_DIAG)");
  }
  alignas(nlmsghdr) std::array<char, 32768> buffer{};
  while (true) {
    const ssize_t got = ::recv(fd.get(), buffer.data(), buffer.size(), 0);
    if (got < 0) {
      if (errno == EINTR) continue;
      return base::lastError("recv(NETLINK_SOCK_DIAG)");
    }
    if (got == 0) return {};
    std::size_t offset = 0;
    while (offset + sizeof(nlmsghdr) <= static_cast<std::size_t>(got)) {
      const auto* header = reinterpret_cast<const nlmsghdr*>(buffer.data() + offset);
      if (header->nlmsg_len < sizeof(nlmsghdr) ||
          offset + header->nlmsg_len > static_cast<std::size_t>(got)) {
        break;
      }
      if (header->nlmsg_type == NLMSG_DONE) return {};
      if (header->nlmsg_type == NLMSG_ERROR) {
        const auto* error = payloadOf<nlmsgerr>(*header);
        return base::sysError(error != nullptr ? -error->error : EPROTO, "NETLINK_SOCK_DIAG");
      }
      each(*header);
      offset += NLMSG_ALIGN(header->nlmsg_len);
    }
  }
}

struct InetRequest {
  nlmsghdr header;
  inet_diag_req_v2 request;
};

// The inet sockets of one family and protocol that overlap the endpoint.
base::Result<void> findInet(const Endpoint& endpoint, int family, std::vector<OtherSocket>& out) {
  const bool datagram = endpoint.kind == EndpointKind::kUdp;
  InetRequest message{};
  message.header.nlmsg_len = sizeof(message);
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.request.sdiag_family = static_cast<std::uint8_t>(family);
  message.request.sdiag_protocol = datagram ? IPPROTO_UDP : IPPROTO_TCP;
  // Listening TCP sockets; unconnected (bound) UDP sockets, which the kernel calls closed.
  message.request.idiag_states = datagram ? (1U << TCP_CLOSE) : (1U << TCP_LISTEN);
  return dump(&message, sizeof(message), [&](const nlmsghdr& header) {
    const auto* socket = payloadOf<inet_diag_msg>(header);
    if (socket == nullptr) return;
    bool v6only = false;
    forEachAttribute(header, sizeof(*socket), [&](unsigned type, std::string_view data) {
      if (type == INET_DIAG_SKV6ONLY && !data.empty()) v6only = data[0] != 0;
    });
    std::array<std::uint8_t, 16> address{};
    std::memcpy(address.data(), socket->id.idiag_src, address.size());
    const std::uint16_t port = ntohs(socket->id.idiag_sport);
    if (!overlapsEndpoint(endpoint, socket->idiag_family, address.data(), port, v6only)) return;
    sockaddr_storage storage{};
    socklen_t length = 0;
    if (socket->idiag_family == AF_INET) {
      auto* sin = reinterpret_cast<sockaddr_in*>(&storage);
      sin->sin_family = AF_INET;
      sin->sin_port = socket->id.idiag_sport;
      std::memcpy(&sin->sin_addr, address.data(), 4);
      length = sizeof(*sin);
    } else {
      auto* sin6 = reinterpret_cast<sockaddr_in6*>(&storage);
      sin6->sin6_family = AF_INET6;
      sin6->sin6_port = socket->id.idiag_sport;
      std::memcpy(&sin6->sin6_addr, address.data(), 16);
      length = sizeof(*sin6);
    }
    out.push_back(OtherSocket{formatSockaddr(reinterpret_cast<sockaddr*>(&storage), length),
                              socket->idiag_inode,
                              socket->idiag_uid,
                              {}});
  });
}

struct UnixRequest {
  nlmsghdr header;
  unix_diag_req request;
};

// The Unix sockets bound to the endpoint's name, of its type.
base::Result<void> findUnix(const Endpoint& endpoint, std::vector<OtherSocket>& out) {
  const auto* sun = reinterpret_cast<const sockaddr_un*>(&endpoint.addr);
  const std::size_t name_length = endpoint.addr_len - offsetof(sockaddr_un, sun_path);
  // A path's length stops at its NUL; an abstract name is its bytes, the NUL in front included.
  const std::string name = sun->sun_path[0] == '\0'
                               ? std::string(sun->sun_path, name_length)
                               : std::string(sun->sun_path, strnlen(sun->sun_path, name_length));
  const int type = endpoint.isStream() ? SOCK_STREAM : SOCK_DGRAM;
  UnixRequest message{};
  message.header.nlmsg_len = sizeof(message);
  message.header.nlmsg_type = SOCK_DIAG_BY_FAMILY;
  message.header.nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP;
  message.request.sdiag_family = AF_UNIX;
  message.request.udiag_states = ~0U;
  message.request.udiag_show = UDIAG_SHOW_NAME | UDIAG_SHOW_UID;
  return dump(&message, sizeof(message), [&](const nlmsghdr& header) {
    const auto* socket = payloadOf<unix_diag_msg>(header);
    if (socket == nullptr || socket->udiag_type != type) return;
    bool named = false;
    std::uint32_t uid = 0;
    forEachAttribute(header, sizeof(*socket), [&](unsigned attribute, std::string_view data) {
      if (attribute == UNIX_DIAG_NAME) {
        // A path's name comes with its NUL (the kernel counts it); an abstract one as bound.
        if (!data.empty() && data[0] != '\0' && data.back() == '\0') data.remove_suffix(1);
        named = data == name;
      } else if (attribute == UNIX_DIAG_UID && data.size() >= sizeof(uid)) {
        std::memcpy(&uid, data.data(), sizeof(uid));
      }
    });
    if (!named) return;
    const std::string shown = name[0] == '\0' ? "@" + name.substr(1) : name;
    out.push_back(OtherSocket{shown, socket->udiag_ino, uid, {}});
  });
}

}  // namespace

bool overlapsEndpoint(const Endpoint& endpoint, int family, const std::uint8_t* address,
                      std::uint16_t port, bool v6only) {
  static constexpr std::array<std::uint8_t, 16> kAny{};
  static constexpr std::array<std::uint8_t, 12> kMappedPrefix{0, 0, 0, 0, 0,    0,
                                                              0, 0, 0, 0, 0xff, 0xff};
  const auto isAny = [](const std::uint8_t* bytes, std::size_t n) {
    return std::memcmp(bytes, kAny.data(), n) == 0;
  };
  if (endpoint.family() == AF_INET) {
    const auto* sin = reinterpret_cast<const sockaddr_in*>(&endpoint.addr);
    if (ntohs(sin->sin_port) != port) return false;
    const auto* ours = reinterpret_cast<const std::uint8_t*>(&sin->sin_addr);
    const std::uint8_t* theirs = nullptr;
    if (family == AF_INET) {
      theirs = address;
    } else if (family == AF_INET6 && !v6only && isAny(address, 16)) {
      return true;  // [::] without IPV6_V6ONLY takes IPv4 too
    } else if (family == AF_INET6 &&
               std::memcmp(address, kMappedPrefix.data(), kMappedPrefix.size()) == 0) {
      theirs = address + 12;
    } else {
      return false;
    }
    return isAny(ours, 4) || isAny(theirs, 4) || std::memcmp(ours, theirs, 4) == 0;
  }
  if (endpoint.family() == AF_INET6) {
    // l4lb's own IPv6 sockets are IPV6_V6ONLY: an IPv4 socket takes nothing of theirs.
    if (family != AF_INET6) return false;
    const auto* sin6 = reinterpret_cast<const sockaddr_in6*>(&endpoint.addr);
    if (ntohs(sin6->sin6_port) != port) return false;
    const auto* ours = reinterpret_cast<const std::uint8_t*>(&sin6->sin6_addr);
    return isAny(ours, 16) || isAny(address, 16) || std::memcmp(ours, address, 16) == 0;
  }
  return false;
}

base::Result<std::vector<OtherSocket>> otherSocketsOn(const Endpoint& endpoint) {
  std::vector<OtherSocket> others;
  if (endpoint.family() == AF_UNIX) {
    if (auto found = findUnix(endpoint, others); !found) return found.error();
  } else if (endpoint.kind == EndpointKind::kTcp || endpoint.kind == EndpointKind::kUdp) {
    for (const int family : {AF_INET, AF_INET6}) {
      if (endpoint.family() == AF_INET6 && family == AF_INET) continue;
      if (auto found = findInet(endpoint, family, others); !found) return found.error();
    }
  }
  if (others.empty()) return others;
  // This process's own descriptors are read only when there is something to tell apart: a
  // reload under load may hold very many.
  const std::set<std::uint64_t> own = ownInodes();
  std::erase_if(others, [&](const OtherSocket& other) { return own.contains(other.inode); });
  findHolders(others);
  return others;
}

std::string describeOthers(const std::vector<OtherSocket>& others) {
  // A process with a socket per worker holds several on one address: said once.
  std::vector<std::string> said;
  for (const auto& other : others) {
    std::string text = other.address;
    if (other.holders.empty()) {
      text += fmt::format(" by a process of uid {} (not visible here)", other.uid);
    } else {
      text += other.holders.size() == 1 ? " by pid " : " by pids ";
      for (std::size_t i = 0; i < other.holders.size(); ++i) {
        if (i > 0) text += ", ";
        text += fmt::format("{} ({})", other.holders[i].pid, other.holders[i].command);
      }
    }
    if (std::find(said.begin(), said.end(), text) == said.end()) said.push_back(std::move(text));
  }
  std::string joined;
  for (const auto& text : said) {
    if (!joined.empty()) joined += "; ";
    joined += text;
  }
  return joined;
}

std::string permissionHint(const Endpoint& endpoint) {
  if (endpoint.family() == AF_INET || endpoint.family() == AF_INET6) {
    // Below net.ipv4.ip_unprivileged_port_start (1024 unless lowered) a port is privileged.
    int first_unprivileged = 1024;
    std::ifstream("/proc/sys/net/ipv4/ip_unprivileged_port_start") >> first_unprivileged;
    const int port = hostAndPort(endpoint).port;
    if (port <= 0 || port >= first_unprivileged) return {};
    std::array<char, 4096> self{};
    if (::readlink("/proc/self/exe", self.data(), self.size() - 1) <= 0) {
      std::strcpy(self.data(), "l4lb");
    }
    return fmt::format(
        "binding a port below {} needs root or CAP_NET_BIND_SERVICE (setcap "
        "cap_net_bind_service=+ep {}, or the systemd unit's AmbientCapabilities)",
        first_unprivileged, self.data());
  }
  const auto* sun = reinterpret_cast<const sockaddr_un*>(&endpoint.addr);
  if (endpoint.family() != AF_UNIX || sun->sun_path[0] == '\0') return {};
  std::string directory(sun->sun_path);
  const std::size_t slash = directory.rfind('/');
  directory = slash == std::string::npos ? "." : slash == 0 ? "/" : directory.substr(0, slash);
  return fmt::format("uid {} may not create a socket in {}", ::geteuid(), directory);
}

base::Error bindError(const Endpoint& endpoint, int code) {
  base::Error error = base::sysError(code, "bind");
  if (code == EACCES) {
    const std::string hint = permissionHint(endpoint);
    if (!hint.empty()) return base::failure(error.message() + " (" + hint + ")");
    return error;
  }
  if (code != EADDRINUSE) return error;
  auto others = otherSocketsOn(endpoint);
  if (!others || others->empty()) return error;
  return base::failure(error.message() + " (" + describeOthers(*others) + ")");
}

void handedSocket(int fd) {
  struct stat st {};
  if (::fstat(fd, &st) != 0 || !S_ISSOCK(st.st_mode)) return;
  std::lock_guard lock(handed_mutex);
  handed_inodes.insert(st.st_ino);
}

}  // namespace l4lb::net
