/* An XDP program that passes every frame, for the packet-path tests (test_packet_path.py).
 * On veth, frames that the other end sends with XDP_TX reach this end only when it runs an XDP
 * program of its own: on the kernel these tests were written on (6.18), GRO on the receiving end
 * was not enough, and every XDP_TX'd frame was lost. The tests attach this one, in native mode,
 * to each veth end that receives frames from the l4lb host's program (the bridge's port facing
 * it, and a backend's interface when `l4lb decap` is not there). Built by CMake into
 * BUILD/bpf/xdp_pass.bpf.o. */
#include <linux/bpf.h>

#define SEC(name) __attribute__((section(name), used))

SEC("xdp") int xdp_pass(struct xdp_md *ctx) { return XDP_PASS; }

char _license[] SEC("license") = "GPL";
