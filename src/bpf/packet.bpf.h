/* Packet parsing and checksums for the XDP programs (BPF only: not for the C++ build). */
#pragma once

#include <bpf/bpf_endian.h>
#include <bpf/bpf_helpers.h>
#include <linux/bpf.h>
#include <linux/icmpv6.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/in6.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/tcp.h>
#include <linux/udp.h>

#include "bpf/lb_layout.h"

/* include/net/ip.h's, which the UAPI headers do not carry. */
#define L4LB_IP_DF 0x4000
#define L4LB_IP_MF 0x2000
#define L4LB_IP_OFFSET 0x1fff

/* <linux/icmp.h> pulls in glibc's socket headers, which do not build for the BPF target. */
#define L4LB_ICMP_DEST_UNREACH 3
#define L4LB_ICMP_FRAG_NEEDED 4
struct l4lb_icmp_frag_needed {
  __u8 type;
  __u8 code;
  __sum16 checksum;
  __be16 unused;
  __be16 mtu; /* the next hop's */
};

#define L4LB_DEFAULT_MTU 1500
#define L4LB_IPV6_MIN_MTU 1280

/* What the parser found in a frame. */
enum l4lb_parse_result {
  L4LB_PARSED = 0, /* an IPv4/IPv6 TCP/UDP packet: `flow` and the rest are set */
  L4LB_NOT_OURS,   /* anything else: pass it untouched */
};

struct l4lb_packet {
  struct l4lb_flow flow;
  __u32 l3_length;    /* the IP packet's length by its header (trailing padding excluded) */
  __u32 frame_length; /* data_end - data */
  __u8 tos;           /* IPv4 TOS, or the IPv6 traffic class */
  __u8 syn;           /* a TCP SYN without ACK: a new connection */
  __u8 dont_fragment; /* IPv4 DF set (IPv6 never fragments on the way) */
  __u8 reserved;
};

static __always_inline void l4lb_count(void *map, __u32 counter) {
  __u64 *value = bpf_map_lookup_elem(map, &counter);
  if (value) *value += 1;
}

/* The ports (and SYN) of a TCP/UDP header at `l4`; L4LB_NOT_OURS when it is cut short. */
static __always_inline int l4lb_parse_ports(void *l4, void *data_end, struct l4lb_packet *p) {
  if (p->flow.proto == IPPROTO_TCP) {
    struct tcphdr *tcp = l4;
    if ((void *)(tcp + 1) > data_end) return L4LB_NOT_OURS;
    p->flow.sport = tcp->source;
    p->flow.dport = tcp->dest;
    p->syn = tcp->syn && !tcp->ack;
  } else {
    struct udphdr *udp = l4;
    if ((void *)(udp + 1) > data_end) return L4LB_NOT_OURS;
    p->flow.sport = udp->source;
    p->flow.dport = udp->dest;
  }
  return L4LB_PARSED;
}

/* Fragments and IPv4 options are counted in `counters` (enum l4lb_global_counter) and passed:
 * a fragment after the first has no ports to find its flow by, and options would move the
 * transport header off the fixed offset the fast path reads. Only TCP and UDP are counted. */
static __always_inline int l4lb_parse(void *data, void *data_end, struct l4lb_packet *p,
                                      void *counters) {
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > data_end) return L4LB_NOT_OURS;
  p->frame_length = data_end - data;
  if (eth->h_proto == bpf_htons(ETH_P_IP)) {
    struct iphdr *ip = (void *)(eth + 1);
    if ((void *)(ip + 1) > data_end) return L4LB_NOT_OURS;
    if (ip->version != 4) return L4LB_NOT_OURS;
    if (ip->protocol != IPPROTO_TCP && ip->protocol != IPPROTO_UDP) return L4LB_NOT_OURS;
    if (ip->frag_off & bpf_htons(L4LB_IP_MF | L4LB_IP_OFFSET)) {
      l4lb_count(counters, L4LB_FRAGMENTS);
      return L4LB_NOT_OURS;
    }
    if (ip->ihl != 5) {
      l4lb_count(counters, L4LB_IP_OPTIONS);
      return L4LB_NOT_OURS;
    }
    p->l3_length = bpf_ntohs(ip->tot_len);
    if (p->l3_length < sizeof(*ip) || (void *)ip + p->l3_length > data_end) {
      l4lb_count(counters, L4LB_MALFORMED);
      return L4LB_NOT_OURS;
    }
    p->flow.family = L4LB_AF_INET;
    p->flow.proto = ip->protocol;
    p->flow.src[0] = ip->saddr;
    p->flow.dst[0] = ip->daddr;
    p->tos = ip->tos;
    p->dont_fragment = (ip->frag_off & bpf_htons(L4LB_IP_DF)) != 0;
    return l4lb_parse_ports(ip + 1, data_end, p);
  }
  if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
    struct ipv6hdr *ip6 = (void *)(eth + 1);
    if ((void *)(ip6 + 1) > data_end) return L4LB_NOT_OURS;
    if (ip6->version != 6) return L4LB_NOT_OURS;
    switch (ip6->nexthdr) {
      case IPPROTO_TCP:
      case IPPROTO_UDP: break;
      case IPPROTO_FRAGMENT: l4lb_count(counters, L4LB_FRAGMENTS); return L4LB_NOT_OURS;
      case IPPROTO_HOPOPTS:
      case IPPROTO_ROUTING:
      case IPPROTO_DSTOPTS: l4lb_count(counters, L4LB_IP_OPTIONS); return L4LB_NOT_OURS;
      default: return L4LB_NOT_OURS;
    }
    p->l3_length = sizeof(*ip6) + bpf_ntohs(ip6->payload_len);
    if ((void *)ip6 + p->l3_length > data_end) {
      l4lb_count(counters, L4LB_MALFORMED);
      return L4LB_NOT_OURS;
    }
    p->flow.family = L4LB_AF_INET6;
    p->flow.proto = ip6->nexthdr;
    __builtin_memcpy(p->flow.src, &ip6->saddr, 16);
    __builtin_memcpy(p->flow.dst, &ip6->daddr, 16);
    p->tos = (ip6->priority << 4) | (ip6->flow_lbl[0] >> 4);
    return l4lb_parse_ports(ip6 + 1, data_end, p);
  }
  return L4LB_NOT_OURS;
}

/* A 32-bit one's-complement partial sum folded to the 16-bit checksum field's value. */
static __always_inline __u16 l4lb_csum_fold(__u64 sum) {
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  sum = (sum & 0xffff) + (sum >> 16);
  return ~sum & 0xffff;
}

/* The header checksum of a 20-byte IPv4 header (its check field zero) on the stack. */
static __always_inline __u16 l4lb_ipv4_header_csum(const struct iphdr *ip) {
  const __u16 *words = (const __u16 *)ip;
  __u64 sum = 0;
#pragma unroll
  for (int i = 0; i < (int)(sizeof(*ip) / 2); i++) sum += words[i];
  return l4lb_csum_fold(sum);
}
