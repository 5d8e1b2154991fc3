/* The client hash that picks a Maglev slot, in plain C so that one definition is compiled both by
 * the C++ build (balance/flow_hash.cc's hashClient, which the proxy path uses) and by clang for
 * the BPF target (bpf/xdp_lb.bpf.c). So the XDP program and the C++ side agree on every flow:
 * slot = l4lb_client_hash(...) % M, for the same table, whichever path carries the flow.
 *
 * The function: FNV-1a over the client's address bytes in network order (4 for IPv4, 16 for
 * IPv6), then, when the port is hashed too, the port's two bytes in network order; then the
 * splitmix64 finalizer (FNV alone leaves the low bits weak, and the slot is taken modulo M).
 * Fixed constants, no per-process seed: every l4lb instance and version behind one ECMP route
 * must agree (tests/unit/balance/flow_hash_test.cc pins known values). It equals
 * balance::hashBytes(key, 0) of hash64.h, the same FNV-1a + mix64 with seed 0.
 *
 * Bounded loops only (the BPF verifier), no casts (the header is C++ too). */
#pragma once

#include <linux/types.h>

#define L4LB_FNV_OFFSET 0xcbf29ce484222325ULL
#define L4LB_FNV_PRIME 0x100000001b3ULL

/* splitmix64's finalizer: every output bit depends on every input bit. */
static inline __u64 l4lb_mix64(__u64 x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  x ^= x >> 31;
  return x;
}

/* `address` holds `address_length` bytes (4 or 16; at most 16 are read). `port` is in host
 * order and hashed only when `with_port` is non-zero. */
static inline __u64 l4lb_client_hash(const __u8 *address, __u32 address_length, __u16 port,
                                     int with_port) {
  __u64 h = L4LB_FNV_OFFSET; /* FNV's offset basis xor mix64(seed 0), which is 0 */
  for (__u32 i = 0; i < 16; i++) {
    if (i >= address_length) break;
    h = (h ^ address[i]) * L4LB_FNV_PRIME;
  }
  if (with_port) {
    h = (h ^ ((port >> 8) & 0xffU)) * L4LB_FNV_PRIME;
    h = (h ^ (port & 0xffU)) * L4LB_FNV_PRIME;
  }
  return l4lb_mix64(h);
}
