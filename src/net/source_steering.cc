#include "net/source_steering.h"

#include <linux/filter.h>
#include <sys/socket.h>

#include <array>

namespace l4lb::net {

base::Result<void> steerBySource(int fd, std::uint32_t sockets) {
  if (sockets < 2) return {};  // one socket: nothing to steer
  // Classic BPF run on the packet with its data past the transport header; SKF_NET_OFF
  // addresses the IP header. IPv4: source at 12; IPv6: the low 32 bits of the source (which
  // differ between clients of one prefix) at 20. Multiplying spreads neighbouring addresses.
  constexpr std::uint32_t kNet = static_cast<std::uint32_t>(SKF_NET_OFF);
  std::array<sock_filter, 10> code = {{
      BPF_STMT(BPF_LD | BPF_B | BPF_ABS, kNet + 0),   // A = version and IHL
      BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 4),         // A = IP version
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, 4, 0, 2),   // IPv4 ? next : IPv6
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kNet + 12),  // A = IPv4 source
      BPF_JUMP(BPF_JMP | BPF_JA, 1, 0, 0),            // to the hash
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, kNet + 20),  // A = IPv6 source, last word
      BPF_STMT(BPF_ALU | BPF_MUL | BPF_K, 2654435761U),
      BPF_STMT(BPF_ALU | BPF_RSH | BPF_K, 16),  // the product's well-mixed middle bits
      BPF_STMT(BPF_ALU | BPF_MOD | BPF_K, sockets),
      BPF_STMT(BPF_RET | BPF_A, 0),
  }};
  sock_fprog program{static_cast<unsigned short>(code.size()), code.data()};
  if (::setsockopt(fd, SOL_SOCKET, SO_ATTACH_REUSEPORT_CBPF, &program, sizeof(program)) != 0) {
    return base::lastError("setsockopt(SO_ATTACH_REUSEPORT_CBPF)");
  }
  return {};
}

}  // namespace l4lb::net
