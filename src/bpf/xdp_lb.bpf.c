/* The XDP load balancer. For an IPv4/IPv6 TCP/UDP packet to a VIP:port in `vips`: find its flow
 * in the connection table, or pick a backend from the VIP's Maglev table (and remember it); then
 * send the packet to the backend, by L2 DSR (only the MACs change) or IPIP encapsulation, out of
 * the interface the kernel's FIB names (XDP_TX, or a redirect). Everything else is XDP_PASSed
 * untouched. Maps and counters: lb_layout.h; the design: docs/internals.md, "src/bpf". */
#include "balance/packet_hash.h"
#include "bpf/emit.bpf.h"
#include "bpf/lb_layout.h"
#include "bpf/packet.bpf.h"

struct {
  __uint(type, BPF_MAP_TYPE_HASH);
  __uint(max_entries, L4LB_MAX_VIPS);
  __type(key, struct l4lb_vip_key);
  __type(value, struct l4lb_vip);
} vips SEC(".maps");

/* The template of every VIP's table (lb_layout.h, "maglev_tables"): BPF_F_INNER_MAP lets the
 * real tables have any number of entries. */
struct l4lb_maglev_inner {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __uint(map_flags, BPF_F_INNER_MAP);
  __type(key, __u32);
  __type(value, __u32);
};

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
  __uint(max_entries, L4LB_MAX_VIPS);
  __type(key, __u32);
  __array(values, struct l4lb_maglev_inner);
} maglev_tables SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, L4LB_MAX_BACKENDS);
  __type(key, __u32);
  __type(value, struct l4lb_backend);
} backends SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_LRU_HASH);
  __uint(max_entries, L4LB_DEFAULT_CONN_ENTRIES);
  __type(key, struct l4lb_flow);
  __type(value, struct l4lb_conn);
} conns SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, L4LB_MAX_VIPS);
  __type(key, __u32);
  __type(value, struct l4lb_counters);
} vip_stats SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, L4LB_MAX_BACKENDS);
  __type(key, __u32);
  __type(value, struct l4lb_counters);
} backend_stats SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
  __uint(max_entries, L4LB_GLOBAL_COUNTERS);
  __type(key, __u32);
  __type(value, __u64);
} global_stats SEC(".maps");

struct {
  __uint(type, BPF_MAP_TYPE_ARRAY);
  __uint(max_entries, 1);
  __type(key, __u32);
  __type(value, struct l4lb_config);
} lb_config SEC(".maps");

#define L4LB_NS_PER_SECOND 1000000000ULL

/* The flow's Maglev hash: packet_hash.h, the function the C++ side computes too. */
static __always_inline __u64 l4lb_flow_hash(const struct l4lb_packet *p, __u32 vip_flags) {
  return l4lb_client_hash((const __u8 *)p->flow.src, p->flow.family == L4LB_AF_INET ? 4 : 16,
                          bpf_ntohs(p->flow.sport), (vip_flags & L4LB_VIP_HASH_PORT) != 0);
}

/* The backend index of the flow's slot in its VIP's current table, or 0. */
static __always_inline __u32 l4lb_maglev_pick(__u32 vip_id, __u64 hash) {
  void *table = bpf_map_lookup_elem(&maglev_tables, &vip_id);
  if (!table) return 0;
  __u32 key = 0;
  const __u32 *size = bpf_map_lookup_elem(table, &key);
  if (!size || *size == 0) return 0;
  key = 1 + hash % *size;
  const __u32 *backend = bpf_map_lookup_elem(table, &key);
  return backend ? *backend : 0;
}

/* A connection entry still to be followed: its backend is in use and not down, and a UDP flow
 * has not been idle past the configured limit. Refreshes last_seen_ns at most once a second
 * (a write per packet would bounce the entry's cache line between CPUs). */
static __always_inline const struct l4lb_backend *l4lb_follow(struct l4lb_conn *conn, __u8 proto,
                                                              const struct l4lb_config *config,
                                                              __u64 now) {
  const struct l4lb_backend *backend = bpf_map_lookup_elem(&backends, &conn->backend);
  if (!backend || backend->family == 0 || (backend->flags & L4LB_BACKEND_DOWN)) return 0;
  const __u64 idle = now - conn->last_seen_ns;
  if (proto == IPPROTO_UDP && config->udp_idle_s &&
      idle > (__u64)config->udp_idle_s * L4LB_NS_PER_SECOND)
    return 0;
  if (idle > L4LB_NS_PER_SECOND) conn->last_seen_ns = now;
  return backend;
}

static __always_inline void l4lb_add(struct l4lb_counters *c, __u64 bytes, int new_flow, int miss) {
  if (!c) return;
  c->packets += 1;
  c->bytes += bytes;
  c->new_flows += new_flow;
  c->conn_misses += miss;
}

SEC("xdp")
int xdp_lb(struct xdp_md *ctx) {
  void *data = (void *)(long)ctx->data;
  void *data_end = (void *)(long)ctx->data_end;
  struct l4lb_packet p = {};
  if (l4lb_parse(data, data_end, &p, &global_stats) != L4LB_PARSED) return XDP_PASS;

  struct l4lb_vip_key vip_key = {
      .port = p.flow.dport,
      .proto = p.flow.proto,
      .family = p.flow.family,
  };
  __builtin_memcpy(vip_key.addr, p.flow.dst, sizeof(vip_key.addr));
  const struct l4lb_vip *vip = bpf_map_lookup_elem(&vips, &vip_key);
  if (!vip) return XDP_PASS;
  const __u32 vip_id = vip->id;
  const __u32 vip_flags = vip->flags;
  __u32 zero = 0;
  const struct l4lb_config *config = bpf_map_lookup_elem(&lb_config, &zero);
  if (!config) return XDP_PASS; /* cannot happen: an array's entry always exists */

  /* The backend: the connection entry's, unless this is a new connection (SYN) or the entry
   * is gone or no longer to be followed; then the Maglev table's, remembered. */
  const __u64 now = bpf_ktime_get_coarse_ns();
  const struct l4lb_backend *backend = 0;
  __u32 backend_index = 0;
  int miss = 0, picked = 0;
  if (!p.syn) {
    struct l4lb_conn *conn = bpf_map_lookup_elem(&conns, &p.flow);
    if (conn) {
      backend_index = conn->backend;
      backend = l4lb_follow(conn, p.flow.proto, config, now);
    } else {
      miss = 1;
    }
  }
  __u64 hash = 0;
  const int encapsulate = (vip_flags & L4LB_VIP_IPIP) != 0;
  if (!backend || encapsulate) hash = l4lb_flow_hash(&p, vip_flags);
  if (!backend) {
    backend_index = l4lb_maglev_pick(vip_id, hash);
    backend = bpf_map_lookup_elem(&backends, &backend_index);
    if (backend_index == 0 || !backend || backend->family == 0) {
      l4lb_add(bpf_map_lookup_elem(&vip_stats, &vip_id), p.frame_length, 0, miss);
      l4lb_count(&global_stats, L4LB_NO_BACKEND);
      return XDP_DROP;
    }
    struct l4lb_conn entry = {.backend = backend_index, .last_seen_ns = now};
    bpf_map_update_elem(&conns, &p.flow, &entry, BPF_ANY);
    picked = 1;
  }
  l4lb_add(bpf_map_lookup_elem(&vip_stats, &vip_id), p.frame_length, picked, miss);

  struct bpf_fib_lookup fib;
  long fib_result;
  if (encapsulate) {
    const __u32 outer_length =
        backend->family == L4LB_AF_INET ? sizeof(struct iphdr) : sizeof(struct ipv6hdr);
    const __u32 mtu = config->mtu ? config->mtu : L4LB_DEFAULT_MTU;
    if (p.l3_length + outer_length > mtu) {
      if (p.flow.family == L4LB_AF_INET6) {
        l4lb_count(&global_stats, L4LB_TOO_BIG_ANSWERED);
        return l4lb_answer_too_big_v6(ctx, mtu - outer_length);
      }
      /* Without DF the sender allows fragmenting, which XDP cannot do, and the fragments it
       * would send instead are passed to the host, not balanced: drop it. */
      if (!p.dont_fragment) {
        l4lb_count(&global_stats, L4LB_TOO_BIG_DROPPED);
        return XDP_DROP;
      }
      l4lb_count(&global_stats, L4LB_TOO_BIG_ANSWERED);
      return l4lb_answer_too_big_v4(ctx, mtu - outer_length);
    }
    const __u32 bits = l4lb_encap_source_bits(hash, bpf_ntohs(p.flow.sport));
    __be32 src[4];
    l4lb_encap_source(config, backend->family, bits, src);
    fib_result = l4lb_next_hop(ctx, backend, src, 1, &fib);
    if (fib_result == BPF_FIB_LKUP_RET_SUCCESS && l4lb_encapsulate(ctx, &p, backend, src, bits))
      fib_result = -1;
  } else {
    /* L2 DSR: the packet keeps its addresses; a backend of the other family is only a next
     * hop to find, with no source to tell the FIB. */
    fib_result = l4lb_next_hop(ctx, backend, p.flow.src, backend->family == p.flow.family, &fib);
  }
  if (fib_result != BPF_FIB_LKUP_RET_SUCCESS) {
    l4lb_count(&global_stats,
               fib_result == BPF_FIB_LKUP_RET_NO_NEIGH ? L4LB_FIB_NO_NEIGH : L4LB_FIB_FAILED);
    return XDP_DROP;
  }
  l4lb_add(bpf_map_lookup_elem(&backend_stats, &backend_index), p.frame_length, picked, miss);
  data = (void *)(long)ctx->data;
  data_end = (void *)(long)ctx->data_end;
  struct ethhdr *eth = data;
  if ((void *)(eth + 1) > data_end) return XDP_DROP;
  return l4lb_send(ctx, eth, &fib);
}

char LICENSE[] SEC("license") = "GPL";
