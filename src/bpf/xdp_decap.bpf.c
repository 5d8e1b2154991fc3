/* The backends' side of `forward = "ipip"` where the kernel has no ipip/ip6tnl device: strips
 * an outer IPv4 or IPv6 header whose payload is IPv4 (protocol 4) or IPv6 (41) and passes the
 * inner packet to the kernel, which delivers it to the VIP the backend holds on lo. The backend
 * then answers the client directly. Anything else passes untouched.
 *
 * It decapsulates whatever IP-in-IP arrives, from anyone: a backend reachable from outside its
 * network should drop foreign IPIP before it (a firewall on the outer source), as it would for
 * a kernel tunnel device. */
#include "bpf/lb_layout.h"
#include "bpf/packet.bpf.h"

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, L4LB_DECAP_COUNTERS);
  __type(key, __u32);
  __type(value, __u64);
} decap_stats SEC(".maps");

SEC("xdp")
int xdp_decap(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > data_end) return XDP_PASS;
  int outer_length;
  __u8 inner;
  __u32 counter;
  if (eth->h_proto == bpf_htons(ETH_P_IP)) {
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end) return XDP_PASS;
    /* Options or a fragment: the kernel's business (it drops what it cannot handle). */
    if (ip->ihl != 5 || (ip->frag_off & bpf_htons(L4LB_IP_MF | L4LB_IP_OFFSET))) return XDP_PASS;
    inner = ip->protocol;
    outer_length = sizeof(*ip);
    counter = L4LB_DECAP_V4;
  } else if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr *ip6 = (void *)(eth + 1);
    if ((void *)(ip6 + 1) > data_end) return XDP_PASS;
    inner = ip6->nexthdr;
    outer_length = sizeof(*ip6);
    counter = L4LB_DECAP_V6;
  } else {
    return XDP_PASS;
  }
  __be16 inner_proto;
  if (inner == IPPROTO_IPIP)
    inner_proto = bpf_htons(ETH_P_IP);
  else if (inner == IPPROTO_IPV6)
    inner_proto = bpf_htons(ETH_P_IPV6);
  else
    return XDP_PASS;

  /* The Ethernet header moves forward over the outer IP header, then the frame starts there. */
  struct ethhdr *moved = data + outer_length;
  if ((void *)(moved + 1) > data_end) return XDP_PASS;
  struct ethhdr copy;
  __builtin_memcpy(&copy, eth, sizeof(copy));
  copy.h_proto = inner_proto;
  __builtin_memcpy(moved, &copy, sizeof(copy));
  if (bpf_xdp_adjust_head(ctx, outer_length)) return XDP_DROP;
  l4lb_count(&decap_stats, counter);
  return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
