#!/usr/bin/python3
"""Draws the benchmark's throughput as a PNG: one group of bars per workload, each target's best
round as a share of the direct connection (the ceiling), with l4lb's ratio to the better peer
written above its bar. Reads the results.tsv that run.sh writes."""

import argparse
import collections
import csv

import matplotlib

matplotlib.use("Agg")  # no display here
import matplotlib.pyplot as plt  # noqa: E402

TARGETS = ["haproxy", "nginx", "l4lb"]
COLORS = {"haproxy": "#8c8c8c", "nginx": "#4f9d69", "l4lb": "#2a6fdb"}
LABELS = {
    "redis_get": "redis GET\n50 conns",
    "http_keepalive": "HTTP keep-alive\n50 conns",
    "http_close": "HTTP Connection: close\n(new conn per request)",
    "iperf3": "iperf3\n1 stream",
    "ping_latency": "sequential PING\n1 conn",
    "dns_udp": "DNS over UDP, dnsperf\n(no HAProxy: no generic UDP)",
}


def best_rounds(path):
    best = collections.defaultdict(dict)
    with open(path, newline="") as f:
        for row in csv.DictReader(f, delimiter="\t"):
            if row.get("status") != "ok":
                continue
            try:
                value = float(row["throughput"])
            except (KeyError, ValueError):
                continue
            cell = best[row["workload"]]
            cell[row["target"]] = max(cell.get(row["target"], 0.0), value)
    return best


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--results", required=True, help="results.tsv from bench/run.sh")
    parser.add_argument("--out", required=True, help="PNG to write")
    args = parser.parse_args()

    best = best_rounds(args.results)
    workloads = [w for w in LABELS if w in best and best[w].get("direct")]
    workloads += [w for w in best if w not in workloads and best[w].get("direct")]
    if not workloads:
        raise SystemExit("chart.py: no workload with a direct result in " + args.results)

    fig, ax = plt.subplots(figsize=(11, 5.5), dpi=110)
    width = 0.26
    for i, target in enumerate(TARGETS):
        xs, ys = [], []
        for w, workload in enumerate(workloads):
            value = best[workload].get(target)
            if value:
                xs.append(w + (i - 1) * width)
                ys.append(value / best[workload]["direct"])
        ax.bar(xs, ys, width, label=target, color=COLORS[target])
        if target == "l4lb":
            for x, y, workload in zip(xs, ys, [w for w in workloads if best[w].get("l4lb")]):
                peers = [best[workload].get(p, 0.0) for p in ("haproxy", "nginx")]
                if max(peers) > 0:
                    ratio = best[workload]["l4lb"] / max(peers)
                    ax.annotate(f"{ratio:.2f}x", (x, y), xytext=(0, 3),
                                textcoords="offset points", ha="center", fontsize=8)
    ax.axhline(1.0, color="black", linewidth=0.8, linestyle="--")
    ax.text(len(workloads) - 0.5, 1.01, "direct (no proxy) = 1.0", ha="right", fontsize=8)
    ax.set_xticks(range(len(workloads)))
    ax.set_xticklabels([LABELS.get(w, w) for w in workloads], fontsize=8)
    ax.set_ylabel("throughput, share of the direct connection")
    ax.set_ylim(0, 1.15)
    ax.set_title("l4lb vs HAProxy vs nginx, one worker each pinned to CPU 1\n"
                 "(label over l4lb: l4lb / better peer; best round of one run)", fontsize=10)
    ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out)


if __name__ == "__main__":
    main()
