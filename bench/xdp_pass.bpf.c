// bench/packet.py: an XDP program that passes every frame. On veth, frames another host sends
// with XDP_TX arrive on the peer only if that peer runs an XDP program (on this kernel, GRO on
// the peer was not enough), so the switch port facing the l4lb host gets this one in V5/V6.
#define SEC(name) __attribute__((section(name), used))
struct xdp_md;
SEC("xdp") int xdp_pass(struct xdp_md *ctx) { return 2; /* XDP_PASS */ }
char _license[] SEC("license") = "GPL";
