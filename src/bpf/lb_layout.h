/* The XDP data plane's maps: key and value layouts shared by the BPF programs (xdp_lb.bpf.c,
 * compiled by clang for the BPF target) and by the C++ side that fills and reads the maps
 * (bpf/lb_program.h). Plain C over <linux/types.h> so both compilers read one definition; every
 * struct has a static size check below, and a key's padding is spelled out as a field the
 * writer zeroes, since hash maps compare keys as bytes.
 *
 * Conventions: addresses and ports are in network byte order, as in the packet. An IPv4 address
 * is word 0 of a four-word array, words 1..3 zero. Families are Linux's AF_INET (2) and
 * AF_INET6 (10). Backend indexes start at 1; 0 means "no backend" (an empty slot, an unset
 * entry), so a zeroed value is never mistaken for backend 0.
 *
 * Changing a layout or a map's type, size or flags changes what a pinned map of the same name
 * holds: a binary upgrade that reuses pinned maps must see a new name (conns_v2, ...). */
#pragma once

#include <linux/types.h>

#define L4LB_AF_INET 2
#define L4LB_AF_INET6 10

/* Capacities fixed when the program is loaded (the outer and counter arrays are sized by them). */
#define L4LB_MAX_VIPS 1024     /* VIP ids 0..1023 */
#define L4LB_MAX_BACKENDS 4096 /* backend indexes 1..4095 */
/* Connection-table entries unless the loader sets another size before loading (LbProgram). */
#define L4LB_DEFAULT_CONN_ENTRIES 262144
/* The largest Maglev table a VIP may have (M); its inner map holds M + 1 entries. */
#define L4LB_MAX_TABLE_SIZE 1048573 /* a prime below 2^20 */

/* ---- map "vips": HASH, struct l4lb_vip_key -> struct l4lb_vip, L4LB_MAX_VIPS entries ----
 * The VIP:port/protocol pairs the program owns. A packet whose destination is not here is
 * XDP_PASSed untouched (the host and the proxy path keep working on the same interface).
 * Written by the control plane; an update takes effect on the next packet. */
struct l4lb_vip_key {
  __be32 addr[4]; /* the VIP */
  __be16 port;    /* its port; no port translation on this path */
  __u8 proto;     /* IPPROTO_TCP (6) or IPPROTO_UDP (17) */
  __u8 family;    /* L4LB_AF_INET or L4LB_AF_INET6 */
};

#define L4LB_VIP_IPIP (1U << 0) /* encapsulate to the backend; without it: L2 DSR */
/* Hash the client's address and port (the proxy path's "client-ip-port"): with the VIP's
 * address, port and protocol fixed per table, that is the 5-tuple. Without it, the address only
 * ("client-ip"): all of a client's flows go to one backend. */
#define L4LB_VIP_HASH_PORT (1U << 1)

struct l4lb_vip {
  __u32 id;    /* < L4LB_MAX_VIPS: its slot in maglev_tables and vip_stats */
  __u32 flags; /* L4LB_VIP_* */
};

/* ---- map "maglev_tables": ARRAY_OF_MAPS, u32 VIP id -> inner ARRAY, L4LB_MAX_VIPS entries ----
 * Each VIP's Maglev table. The inner map is an ARRAY u32 -> u32 created with BPF_F_INNER_MAP
 * (so tables of different sizes fit one outer map) with M + 1 entries:
 *   entry 0      M, the table size (a prime, 1 < M <= L4LB_MAX_TABLE_SIZE)
 *   entry 1 + s  the backend index of slot s (0 <= s < M), s = flow hash % M
 * The size lives in the inner map rather than in struct l4lb_vip so that the control plane
 * replaces a table, size included, with one update of the outer map: a packet sees the old table
 * or the new one, never a mix. Build the new inner map, fill it completely, then swap it in. A
 * VIP without a table (or with an empty slot) drops new flows (counted: L4LB_NO_BACKEND). */

/* ---- map "backends": ARRAY, u32 backend index -> struct l4lb_backend, L4LB_MAX_BACKENDS ----
 * Where each backend is. Indexes are stable for a backend's life (connection entries hold
 * them) and never reused while entries may still point at the old owner. */
#define L4LB_BACKEND_DOWN (1U << 0)
/* Existing entries pointing at a down backend re-pick from the Maglev table on their next
 * packet (the control plane also removes it from the tables). */
#define L4LB_BACKEND_DRAIN (1U << 1)
/* No new flows, existing entries keep going: the control plane leaves a draining backend out of
 * the tables it writes, so only picks change; entries that name it are used as usual. The
 * program itself only reports the flag; it is here so that the map alone says the state. */

struct l4lb_backend {
  __be32 addr[4];
  __u8 family; /* 0: an unused index (a packet picking it is dropped, L4LB_NO_BACKEND) */
  __u8 flags;  /* L4LB_BACKEND_* */
  __u16 reserved;
};

/* ---- map "conns": LRU_HASH, struct l4lb_flow -> struct l4lb_conn ----
 * The connection table: which backend each flow (5-tuple) was sent to, so that established
 * flows stay put when a table changes. One table shared by all CPUs (per-CPU LRUs assume the NIC
 * spreads flows by 5-tuple, which veth does not). A TCP SYN always re-picks (a reused tuple is a
 * new connection); a miss on any other packet re-picks too and is counted (conn_misses: the
 * entry was evicted, or another instance carried the flow). Entries are written on a pick only;
 * a hit refreshes last_seen_ns at most once a second. */
struct l4lb_flow {
  __be32 src[4]; /* client */
  __be32 dst[4]; /* VIP */
  __be16 sport;
  __be16 dport;
  __u8 proto;
  __u8 family;
  __u16 reserved; /* zero */
};

struct l4lb_conn {
  __u32 backend; /* backend index */
  __u32 reserved;
  __u64 last_seen_ns; /* bpf_ktime_get_coarse_ns() (CLOCK_MONOTONIC_COARSE) of the last refresh */
};

/* ---- maps "vip_stats" (PERCPU_ARRAY, u32 VIP id, L4LB_MAX_VIPS) and "backend_stats"
 * (PERCPU_ARRAY, u32 backend index, L4LB_MAX_BACKENDS): one struct per CPU; sum them. ----
 * A VIP counts every packet to it, dropped ones too; a backend every packet sent to it. */
struct l4lb_counters {
  __u64 packets;
  __u64 bytes;       /* whole frames as received, Ethernet header included */
  __u64 new_flows;   /* picks from the Maglev table (SYN, miss, or a down backend's entry) */
  __u64 conn_misses; /* packets other than a SYN with no connection entry */
};

/* ---- map "global_stats": PERCPU_ARRAY, u32 enum l4lb_global_counter -> __u64 ---- */
enum l4lb_global_counter {
  L4LB_FRAGMENTS = 0,    /* IPv4 fragments and IPv6 fragment headers: passed */
  L4LB_IP_OPTIONS,       /* IPv4 TCP/UDP with options, IPv6 with extension headers: passed */
  L4LB_NO_BACKEND,       /* a VIP's packet with no table, an empty slot or unused index: dropped */
  L4LB_FIB_NO_NEIGH,     /* the backend's next hop has no neighbour entry: dropped */
  L4LB_FIB_FAILED,       /* no route to the backend, forwarding off, ...: dropped */
  L4LB_TOO_BIG_ANSWERED, /* ICMP fragmentation needed / ICMPv6 packet too big sent back */
  L4LB_TOO_BIG_DROPPED,  /* too big for the MTU once encapsulated, IPv4 without DF: dropped */
  L4LB_MALFORMED,        /* a VIP's packet shorter than its headers say: passed */
  L4LB_GLOBAL_COUNTERS   /* the map's size */
};

/* ---- map "lb_config": ARRAY, u32 0 -> struct l4lb_config, one entry ----
 * Settings of the whole program, rewritten by the control plane at any time. */
struct l4lb_config {
  /* IPIP's outer source: the prefix with the host bits (mask, network order) taken from the
   * flow hash (l4lb_encap_source_bits), so the backend's receive hashing spreads flows. */
  __be32 encap_src4;
  __be32 encap_src4_mask;
  __be32 encap_src6[4];
  __be32 encap_src6_mask; /* host bits of encap_src6[3], the last word */
  /* The largest IP packet (outer header included) the egress link carries; an encapsulated
   * packet above it gets an ICMP too-big answer. 0 means 1500. */
  __u32 mtu;
  /* A UDP flow idle this long re-picks (UDP has no SYN to mark a new flow). 0: never. */
  __u32 udp_idle_s;
  __u32 reserved;
};

/* ---- the decap program's map "decap_stats": PERCPU_ARRAY, enum l4lb_decap_counter -> __u64 */
enum l4lb_decap_counter {
  L4LB_DECAP_V4 = 0, /* outer IPv4 stripped */
  L4LB_DECAP_V6,     /* outer IPv6 stripped */
  L4LB_DECAP_COUNTERS
};

/* The outer source's host bits for a flow: the flow hash's two halves folded, and the client
 * port mixed in so that client-ip hashing still spreads one client's flows. */
static inline __u32 l4lb_encap_source_bits(__u64 flow_hash, __u16 client_port_host_order) {
  const __u32 high = flow_hash >> 32; /* implicit conversions: the header is C++ too */
  const __u32 low = flow_hash & 0xffffffffU;
  return high ^ low ^ client_port_host_order;
}

#ifdef __cplusplus
#define L4LB_STATIC_ASSERT(cond, what) static_assert(cond, what)
#else
#define L4LB_STATIC_ASSERT(cond, what) _Static_assert(cond, what)
#endif
L4LB_STATIC_ASSERT(sizeof(struct l4lb_vip_key) == 20, "vip key layout");
L4LB_STATIC_ASSERT(sizeof(struct l4lb_vip) == 8, "vip layout");
L4LB_STATIC_ASSERT(sizeof(struct l4lb_backend) == 20, "backend layout");
L4LB_STATIC_ASSERT(sizeof(struct l4lb_flow) == 40, "flow layout");
L4LB_STATIC_ASSERT(sizeof(struct l4lb_conn) == 16, "conn layout");
L4LB_STATIC_ASSERT(sizeof(struct l4lb_counters) == 32, "counters layout");
L4LB_STATIC_ASSERT(sizeof(struct l4lb_config) == 40, "config layout");
