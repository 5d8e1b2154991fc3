/* What the load balancer does to a packet once it knows the backend: find the next hop's MACs,
 * encapsulate, or answer "too big". BPF only. */
#pragma once

#include "bpf/packet.bpf.h"

/* The next hop towards `backend` through the kernel's FIB and neighbour table. `src` (4 words)
 * is the source the packet will carry, told to the FIB when `with_src` (same family). Returns the
 * bpf_fib_lookup code; on BPF_FIB_LKUP_RET_SUCCESS `fib` holds the MACs and egress ifindex. The
 * MTU check is left out (tot_len 0): the program checks its own configured MTU. */
static __always_inline long l4lb_next_hop(struct xdp_md *ctx, const struct l4lb_backend *backend,
                                          const __be32 *src, int with_src,
                                          struct bpf_fib_lookup *fib) {
  __builtin_memset(fib, 0, sizeof(*fib));
  fib->ifindex = ctx->ingress_ifindex;
  if (backend->family == L4LB_AF_INET) {
    fib->family = L4LB_AF_INET;
    fib->ipv4_dst = backend->addr[0];
    if (with_src) fib->ipv4_src = src[0];
  } else {
    fib->family = L4LB_AF_INET6;
    __builtin_memcpy(fib->ipv6_dst, backend->addr, 16);
    if (with_src) __builtin_memcpy(fib->ipv6_src, src, 16);
  }
  return bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
}

/* Sets the Ethernet header at `data` from the FIB answer and sends the frame: XDP_TX when it
 * leaves where it came in, a redirect otherwise. */
static __always_inline int l4lb_send(struct xdp_md *ctx, struct ethhdr *eth,
                                     const struct bpf_fib_lookup *fib) {
  __builtin_memcpy(eth->h_dest, fib->dmac, ETH_ALEN);
  __builtin_memcpy(eth->h_source, fib->smac, ETH_ALEN);
  if (fib->ifindex == ctx->ingress_ifindex) return XDP_TX;
  return bpf_redirect(fib->ifindex, 0);
}

/* The outer source for a flow: the configured prefix, its host bits from the flow hash. */
static __always_inline void l4lb_encap_source(const struct l4lb_config *config, __u8 family,
                                              __u32 bits, __be32 *src) {
  if (family == L4LB_AF_INET) {
    src[0] = (config->encap_src4 & ~config->encap_src4_mask) |
             (bpf_htonl(bits) & config->encap_src4_mask);
    src[1] = src[2] = src[3] = 0;
  } else {
    src[0] = config->encap_src6[0];
    src[1] = config->encap_src6[1];
    src[2] = config->encap_src6[2];
    src[3] = (config->encap_src6[3] & ~config->encap_src6_mask) |
             (bpf_htonl(bits) & config->encap_src6_mask);
  }
}

/* Pushes an outer IPv4 or IPv6 header (the backend's family) from `src` to the backend in front
 * of the IP packet, with a new Ethernet header in front of that (its MACs set by l4lb_send).
 * Protocol 4 (IPIP) carries IPv4, 41 (IPv6) carries IPv6, whichever the outer family. The outer
 * IPv4 header has DF set: a too-big packet is answered before it gets here. Returns 0, or -1
 * when the headroom could not grow (the packet is then unchanged). */
static __always_inline int l4lb_encapsulate(struct xdp_md *ctx, const struct l4lb_packet *p,
                                            const struct l4lb_backend *backend, const __be32 *src,
                                            __u32 hash_bits) {
  const int outer_v4 = backend->family == L4LB_AF_INET;
  const int outer_length = outer_v4 ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);
  const __u8 inner_proto = p->flow.family == L4LB_AF_INET ? IPPROTO_IPIP : IPPROTO_IPV6;
  if (bpf_xdp_adjust_head(ctx, -outer_length)) return -1;
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > data_end) return -1;
  if (outer_v4) {
    struct iphdr *outer = (void *)(eth + 1);
    if ((void *)(outer + 1) > data_end) return -1;
    eth->h_proto = bpf_htons(ETH_P_IP);
    struct iphdr ip = {
        .version = 4,
        .ihl = 5,
        .tos = p->tos,
        .tot_len = bpf_htons(p->l3_length + sizeof(struct iphdr)),
        .frag_off = bpf_htons(L4LB_IP_DF),
        .ttl = 64,
        .protocol = inner_proto,
        .saddr = src[0],
        .daddr = backend->addr[0],
    };
    ip.check = l4lb_ipv4_header_csum(&ip);
    __builtin_memcpy(outer, &ip, sizeof(ip));
  } else {
    struct ipv6hdr *outer = (void *)(eth + 1);
    if ((void *)(outer + 1) > data_end) return -1;
    eth->h_proto = bpf_htons(ETH_P_IPV6);
    struct ipv6hdr ip6 = {
        .version = 6,
        .priority = p->tos >> 4,
        .payload_len = bpf_htons(p->l3_length),
        .nexthdr = inner_proto,
        .hop_limit = 64,
    };
    /* The flow label, like the source, spreads the backend's receive hashing. */
    ip6.flow_lbl[0] = ((p->tos & 0xf) << 4) | ((hash_bits >> 16) & 0xf);
    ip6.flow_lbl[1] = (hash_bits >> 8) & 0xff;
    ip6.flow_lbl[2] = hash_bits & 0xff;
    __builtin_memcpy(&ip6.saddr, src, 16);
    __builtin_memcpy(&ip6.daddr, backend->addr, 16);
    __builtin_memcpy(outer, &ip6, sizeof(ip6));
  }
  return 0;
}

/* What of the too-big packet goes back in the answer: its IP header and 8 bytes, enough for the
 * sender to find the socket (RFC 792 asks for no more; RFC 4443 allows more, and the sender's
 * kernel uses no more). */
#define L4LB_TOO_BIG_QUOTE 8

/* Rewrites the too-big packet in place into the ICMP answer to its sender (from the VIP, with
 * the MACs swapped) and returns XDP_TX, or XDP_DROP when the frame cannot be rebuilt.
 * `mtu` is what the sender's packets may be (the link's MTU minus the outer header). */
static __always_inline int l4lb_answer_too_big_v4(struct xdp_md *ctx, __u32 mtu) {
  const int grow = sizeof(struct iphdr) + sizeof(struct l4lb_icmp_frag_needed);
  if (bpf_xdp_adjust_head(ctx, -grow)) return XDP_DROP;
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  /* Now: [grow bytes][Ethernet][IP][L4...]; the original IP header already sits where the
   * answer quotes it. */
  struct ethhdr *eth = data;
  struct iphdr *ip = (void *)(eth + 1);
  struct l4lb_icmp_frag_needed *icmp = (void *)(ip + 1);
  struct iphdr *quoted = (void *)(icmp + 1);
  struct ethhdr *old_eth = data + grow;
  void *quote_end = (void *)(quoted + 1) + L4LB_TOO_BIG_QUOTE;
  if (quote_end > data_end) return XDP_DROP;
  __u8 mac[ETH_ALEN];
  __builtin_memcpy(mac, old_eth->h_source, ETH_ALEN);
  __builtin_memcpy(eth->h_source, old_eth->h_dest, ETH_ALEN);
  __builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
  eth->h_proto = bpf_htons(ETH_P_IP);

  struct iphdr answer = {
      .version = 4,
      .ihl = 5,
      .tot_len = bpf_htons(sizeof(struct iphdr) + sizeof(struct l4lb_icmp_frag_needed) +
                           sizeof(struct iphdr) + L4LB_TOO_BIG_QUOTE),
      .ttl = 64,
      .protocol = IPPROTO_ICMP,
      .saddr = quoted->daddr,
      .daddr = quoted->saddr,
  };
  answer.check = l4lb_ipv4_header_csum(&answer);
  __builtin_memcpy(ip, &answer, sizeof(answer));

  icmp->type = L4LB_ICMP_DEST_UNREACH;
  icmp->code = L4LB_ICMP_FRAG_NEEDED;
  icmp->checksum = 0;
  icmp->unused = 0;
  icmp->mtu = bpf_htons(mtu);
  const int icmp_length =
      sizeof(struct l4lb_icmp_frag_needed) + sizeof(struct iphdr) + L4LB_TOO_BIG_QUOTE;
  icmp->checksum = l4lb_csum_fold(bpf_csum_diff(0, 0, (void *)icmp, icmp_length, 0));

  const int keep = (void *)quote_end - data;
  if (bpf_xdp_adjust_tail(ctx, keep - (int)(data_end - data))) return XDP_DROP;
  return XDP_TX;
}

struct l4lb_ipv6_pseudo_header {
  __be32 saddr[4];
  __be32 daddr[4];
  __be32 length;
  __u8 zero[3];
  __u8 next_header;
};

static __always_inline int l4lb_answer_too_big_v6(struct xdp_md *ctx, __u32 mtu) {
  const int grow = sizeof(struct ipv6hdr) + sizeof(struct icmp6hdr);
  if (bpf_xdp_adjust_head(ctx, -grow)) return XDP_DROP;
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  struct ipv6hdr *ip6 = (void *)(eth + 1);
  struct icmp6hdr *icmp6 = (void *)(ip6 + 1);
  struct ipv6hdr *quoted = (void *)(icmp6 + 1);
  struct ethhdr *old_eth = data + grow;
  void *quote_end = (void *)(quoted + 1) + L4LB_TOO_BIG_QUOTE;
  if (quote_end > data_end) return XDP_DROP;
  __u8 mac[ETH_ALEN];
  __builtin_memcpy(mac, old_eth->h_source, ETH_ALEN);
  __builtin_memcpy(eth->h_source, old_eth->h_dest, ETH_ALEN);
  __builtin_memcpy(eth->h_dest, mac, ETH_ALEN);
  eth->h_proto = bpf_htons(ETH_P_IPV6);

  const int icmp_length = sizeof(struct icmp6hdr) + sizeof(struct ipv6hdr) + L4LB_TOO_BIG_QUOTE;
  struct ipv6hdr answer = {
      .version = 6,
      .payload_len = bpf_htons(icmp_length),
      .nexthdr = IPPROTO_ICMPV6,
      .hop_limit = 64,
  };
  __builtin_memcpy(&answer.saddr, &quoted->daddr, 16);
  __builtin_memcpy(&answer.daddr, &quoted->saddr, 16);
  __builtin_memcpy(ip6, &answer, sizeof(answer));

  icmp6->icmp6_type = ICMPV6_PKT_TOOBIG;
  icmp6->icmp6_code = 0;
  icmp6->icmp6_cksum = 0;
  /* RFC 8201: no IPv6 link is below 1280, so a smaller figure would only be ignored. */
  icmp6->icmp6_mtu = bpf_htonl(mtu < L4LB_IPV6_MIN_MTU ? L4LB_IPV6_MIN_MTU : mtu);
  struct l4lb_ipv6_pseudo_header pseudo = {
      .length = bpf_htonl(icmp_length),
      .next_header = IPPROTO_ICMPV6,
  };
  __builtin_memcpy(pseudo.saddr, &answer.saddr, 16);
  __builtin_memcpy(pseudo.daddr, &answer.daddr, 16);
  __s64 sum = bpf_csum_diff(0, 0, (void *)&pseudo, sizeof(pseudo), 0);
  sum = bpf_csum_diff(0, 0, (void *)icmp6, icmp_length, sum);
  icmp6->icmp6_cksum = l4lb_csum_fold(sum);

  const int keep = (void *)quote_end - data;
  if (bpf_xdp_adjust_tail(ctx, keep - (int)(data_end - data))) return XDP_DROP;
  return XDP_TX;
}
