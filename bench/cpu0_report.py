"""Summarises bench/cpu0_profile.sh's perf reports: CPU 0 microseconds per request per target.

Each sample is 100 µs of CPU 0 (perf record -F 10000 on a software clock); the idle task's
samples are CPU 0 not busy.
"""

from __future__ import annotations

import collections
import sys

SERVERS = ("redis-server", "nginx")
CLIENTS = ("redis-benchmar", "redis-benchmark", "wrk")  # perf truncates comm to 15 characters
SAMPLE_US = 100.0


def parse_count(text: str) -> float:
    text = text.strip().upper()
    return float(text.rstrip("K")) * (1000 if text.endswith("K") else 1)


def read_rows(tmp: str):
    rows = {}
    for line in open(f"{tmp}/summary"):
        workload, target, requests, rate, samples = line.split()
        per_comm: collections.Counter = collections.Counter()
        per_sym: collections.Counter = collections.Counter()
        total = parse_count(samples)
        for entry in open(f"{tmp}/{workload}-{target}.report"):
            parts = entry.split()
            share, comm, sym = float(parts[0]), parts[1], parts[-1]
            us = share / 100 * total * SAMPLE_US / float(requests)
            comm = "(idle)" if comm == "swapper" else comm
            per_comm[comm] += us
            if comm != "(idle)":
                per_sym[sym] += us
        rows[(workload, target)] = (float(rate), per_comm, per_sym)
    return rows


def main() -> None:
    rows = read_rows(sys.argv[1])
    print("CPU 0 microseconds per request (perf cpu-clock samples on CPU 0 / requests)")
    print(f"{'workload':15} {'target':8} {'req/s':>9} {'busy':>6} {'server':>7} {'client':>7}"
          f" {'other':>6} {'idle':>6}")
    for (workload, target), (rate, per_comm, _) in rows.items():
        busy = sum(v for k, v in per_comm.items() if k != "(idle)")
        server = sum(per_comm.get(k, 0) for k in SERVERS)
        client = sum(per_comm.get(k, 0) for k in CLIENTS)
        print(f"{workload:15} {target:8} {rate:9.0f} {busy:6.2f} {server:7.2f} {client:7.2f}"
              f" {busy - server - client:6.2f} {per_comm.get('(idle)', 0):6.2f}")
    for workload in dict.fromkeys(w for w, _ in rows):
        direct = rows[(workload, "direct")][2]
        for target in ("haproxy", "l4lb"):
            grown = collections.Counter(
                {s: v - direct.get(s, 0) for s, v in rows[(workload, target)][2].items()})
            top = ", ".join(f"{sym} {delta:+.2f}" for sym, delta in grown.most_common(5))
            print(f"{workload} {target}: grew most against direct (µs/request): {top}")


if __name__ == "__main__":
    main()
