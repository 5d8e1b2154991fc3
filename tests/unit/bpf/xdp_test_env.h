#pragma once

// What the XDP tests share: a network namespace of their own with the interfaces and neighbour
// entries bpf_fib_lookup needs, and a way to run a loaded program on a frame with
// BPF_PROG_TEST_RUN.
//
// Why a namespace: in BPF_PROG_TEST_RUN the program's bpf_fib_lookup asks the FIB of the
// namespace the test runs in, through the ingress interface the test names. So the tests make
// one (unshare(CLONE_NEWNET) on the test thread, back to the old one afterwards), with veth
// pairs, addresses, routes and permanent neighbour entries whose MACs they know, and compare
// output frames byte for byte, MACs included. Nothing is sent: BPF_PROG_TEST_RUN without live
// frames only runs the program and returns its verdict and the frame.

#include <bpf/bpf.h>
#include <fcntl.h>
#include <linux/bpf.h>
#include <net/if.h>
#include <sched.h>
#include <unistd.h>

#include <cstdint>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "base/fd.h"
#include "packet_builder.h"

namespace l4lb::bpf::testing {

// The namespace's layout (documentation ranges only).
//   lb0 <-> lb0p  192.0.2.1/24, 2001:db8::1/64: the ingress; backends 192.0.2.11..13 and
//                 2001:db8::11..13 are neighbours on it (MAC 02:00:00:00:01:NN, NN = the index)
//   lb1 <-> lb1p  198.51.100.1/24, 2001:db8:1::1/64: backend 198.51.100.21 and 2001:db8:1::21
//                 behind it (a redirect, not XDP_TX)
inline const Mac kLb0Mac{0x02, 0, 0, 0, 0, 0x01};
inline const Mac kLb1Mac{0x02, 0, 0, 0, 0, 0x02};
inline const Mac kRouterMac{0x02, 0, 0, 0, 0, 0xfe};  // the client side's next hop

inline Mac backendMac(std::uint32_t index) {
  return Mac{0x02, 0, 0, 0, 0x01, static_cast<std::uint8_t>(index)};
}

inline bool runShell(const std::string& command) {
  return std::system((command + " >/dev/null 2>&1").c_str()) == 0;
}

// The calling thread in a new network namespace for this object's life. valid() is false (and
// why() says why) where the namespace or its interfaces could not be made (not root, no veth).
class XdpTestNet {
 public:
  XdpTestNet() {
    if (::geteuid() != 0) {
      why_ = "needs root (CAP_BPF, CAP_NET_ADMIN) for BPF_PROG_TEST_RUN and a network namespace";
      return;
    }
    original_ = base::Fd(::open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC));
    if (!original_ || ::unshare(CLONE_NEWNET) != 0) {
      why_ = "cannot make a network namespace here";
      original_.reset();
      return;
    }
    const char* commands[] = {
        "sysctl -qw net.ipv4.ip_forward=1",
        "sysctl -qw net.ipv6.conf.all.forwarding=1",
        "ip link set lo up",
        "ip link add lb0 address 02:00:00:00:00:01 type veth peer name lb0p",
        "ip link add lb1 address 02:00:00:00:00:02 type veth peer name lb1p",
        "ip link set lb0 up",
        "ip link set lb0p up",
        "ip link set lb1 up",
        "ip link set lb1p up",
        "ip addr add 192.0.2.1/24 dev lb0",
        "ip addr add 2001:db8::1/64 dev lb0 nodad",
        "ip addr add 198.51.100.1/24 dev lb1",
        "ip addr add 2001:db8:1::1/64 dev lb1 nodad",
        "ip neigh add 192.0.2.11 lladdr 02:00:00:00:01:01 dev lb0 nud permanent",
        "ip neigh add 192.0.2.12 lladdr 02:00:00:00:01:02 dev lb0 nud permanent",
        "ip neigh add 192.0.2.13 lladdr 02:00:00:00:01:03 dev lb0 nud permanent",
        "ip neigh add 2001:db8::11 lladdr 02:00:00:00:01:04 dev lb0 nud permanent",
        "ip neigh add 2001:db8::12 lladdr 02:00:00:00:01:05 dev lb0 nud permanent",
        "ip neigh add 2001:db8::13 lladdr 02:00:00:00:01:06 dev lb0 nud permanent",
        "ip neigh add 198.51.100.21 lladdr 02:00:00:00:01:07 dev lb1 nud permanent",
        "ip neigh add 2001:db8:1::21 lladdr 02:00:00:00:01:08 dev lb1 nud permanent",
    };
    for (const char* command : commands) {
      if (!runShell(command)) {
        why_ = std::string("cannot set up the test namespace: `") + command + "` failed";
        return;
      }
    }
    lb0_ = static_cast<int>(if_nametoindex("lb0"));
    lb1_ = static_cast<int>(if_nametoindex("lb1"));
  }
  ~XdpTestNet() {
    if (original_) (void)::setns(original_.get(), CLONE_NEWNET);
  }
  XdpTestNet(const XdpTestNet&) = delete;
  XdpTestNet& operator=(const XdpTestNet&) = delete;

  [[nodiscard]] bool valid() const { return why_.empty(); }
  [[nodiscard]] const std::string& why() const { return why_; }
  [[nodiscard]] int lb0() const { return lb0_; }
  [[nodiscard]] int lb1() const { return lb1_; }

 private:
  base::Fd original_;
  std::string why_;
  int lb0_ = 0;
  int lb1_ = 0;
};

struct XdpRun {
  int verdict = -1;  // XDP_*, or -errno when the run itself failed
  Bytes out;
  std::uint32_t duration_ns = 0;  // the kernel's average per repeat
};

// Runs the program once (or `repeat` times on the same buffer) on `frame` as if it arrived on
// `ingress_ifindex`.
inline XdpRun runXdp(int program_fd, std::span<const std::uint8_t> in, int ingress_ifindex,
                     std::uint32_t repeat = 1) {
  XdpRun run;
  run.out.resize(in.size() + 512);
  xdp_md context{};
  context.data_end = static_cast<std::uint32_t>(in.size());
  context.ingress_ifindex = static_cast<std::uint32_t>(ingress_ifindex);
  bpf_test_run_opts opts{};
  opts.sz = sizeof(opts);
  opts.data_in = in.data();
  opts.data_size_in = static_cast<std::uint32_t>(in.size());
  opts.data_out = run.out.data();
  opts.data_size_out = static_cast<std::uint32_t>(run.out.size());
  opts.ctx_in = &context;
  opts.ctx_size_in = sizeof(context);
  opts.repeat = repeat;
  if (bpf_prog_test_run_opts(program_fd, &opts) != 0) {
    run.verdict = -errno;
    run.out.clear();
    return run;
  }
  run.verdict = static_cast<int>(opts.retval);
  run.out.resize(opts.data_size_out);
  run.duration_ns = opts.duration;
  return run;
}

}  // namespace l4lb::bpf::testing
