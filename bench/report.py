#!/usr/bin/env python3
"""Render bench/run.sh's TSV results as a markdown report.

Input files (written by run.sh):
  results.tsv  one row per cell and round:
               workload target round throughput unit p50_ms p99_ms rss_kib cpu_pct
               cpu0_busy_pct cpu1_busy_pct errors status
  memory.tsv   one row per proxy:
               target conns_ok rss_after_runs_kib rss_before_kib rss_held_kib kib_per_conn status
  meta.tsv     key<TAB>value lines (date, kernel, cpu, command, ...)

For every (workload, target) the best of the rounds is kept ("best" is the highest throughput,
or the lowest p50 for the latency workload) and all of that round's values are shown.
"""

import argparse
import csv
import sys

TARGETS = ["direct", "haproxy", "nginx", "l4lb"]
PEERS = ["haproxy", "nginx"]
PROXIES = ["haproxy", "nginx", "l4lb"]

# workload id -> (title, best-by)
WORKLOADS = {
    "redis_get": ("redis-benchmark GET, 50 connections", "throughput"),
    "http_keepalive": ("wrk HTTP keep-alive, 50 connections, 1 thread", "throughput"),
    "http_close": ("wrk HTTP `Connection: close` (one TCP connection per request), 50 connections",
                   "throughput"),
    "iperf3": ("iperf3 bulk, 1 stream", "throughput"),
    "ping_latency": ("sequential PING on 1 connection (redis-benchmark -c 1)", "p50_ms"),
    "dns_udp": ("dnsperf over UDP to unbound, 8 sockets, 100 outstanding (nginx `proxy_responses"
                " 1`, l4lb `responses = 1`; HAProxy has no generic UDP)", "throughput"),
}


def read_tsv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def num(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def best_rows(rows):
    """(workload, target) -> the best ok row over the rounds."""
    best = {}
    for row in rows:
        if row["status"] != "ok":
            continue
        key = (row["workload"], row["target"])
        by = WORKLOADS.get(row["workload"], ("", "throughput"))[1]
        value = num(row[by])
        if value is None:
            continue
        current = best.get(key)
        if current is None:
            best[key] = row
            continue
        current_value = num(current[by])
        better = value > current_value if by == "throughput" else value < current_value
        if better:
            best[key] = row
    return best


def fmt_throughput(value, unit):
    if value is None:
        return "n/a"
    if unit == "Gbit/s":
        return f"{value:.2f}"
    return f"{value:,.0f}"


def fmt_ms(value):
    return "n/a" if value is None else f"{value:.3f}"


def fmt_ratio(value):
    return "n/a" if value is None else f"{value:.2f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return None
    return a / b


def pick_peer(values, higher_is_better):
    peers = [values.get(p) for p in PEERS if values.get(p) is not None]
    if not peers:
        return None
    return max(peers) if higher_is_better else min(peers)


def metric_row(label, values, fmt, higher_is_better, with_direct=True):
    """One table row: the four targets, l4lb / better peer, and each proxy / direct."""
    cells = [label]
    for target in TARGETS:
        if target == "direct" and not with_direct:
            cells.append("—")
        else:
            cells.append(fmt(values.get(target)))
    cells.append(fmt_ratio(ratio(values.get("l4lb"), pick_peer(values, higher_is_better))))
    for target in PROXIES:
        if with_direct:
            cells.append(fmt_ratio(ratio(values.get(target), values.get("direct"))))
        else:
            cells.append("—")
    return "| " + " | ".join(cells) + " |"


def round_ranges(results):
    """(workload, target) -> (min, max, count) of the throughput over the ok rounds."""
    values = {}
    for row in results:
        value = num(row["throughput"])
        if row["status"] == "ok" and value is not None:
            values.setdefault((row["workload"], row["target"]), []).append(value)
    return {key: (min(v), max(v), len(v)) for key, v in values.items()}


def main_table(best, out, ranges):
    header = ("| workload / metric | direct | haproxy | nginx | l4lb | l4lb ÷ better peer"
              " | haproxy ÷ direct | nginx ÷ direct | l4lb ÷ direct |")
    out.append(header)
    out.append("|" + "---|" * 9)
    notes = []
    for workload, (title, _) in WORKLOADS.items():
        rows = {t: best.get((workload, t)) for t in TARGETS}
        unit = next((r["unit"] for r in rows.values() if r), "")
        out.append(f"| **{title}** |" + " |" * 8)

        def col(field, rows=rows):
            return {t: (num(r[field]) if r else None) for t, r in rows.items()}

        thr = col("throughput")
        out.append(metric_row(f"throughput ({unit})", thr, lambda v: fmt_throughput(v, unit), True))
        spread = []
        for t in TARGETS:
            r = ranges.get((workload, t))
            spread.append("n/a" if r is None else
                          f"{fmt_throughput(r[0], unit)}–{fmt_throughput(r[1], unit)} ({r[2]})")
        out.append(f"| throughput, all rounds: min–max (rounds) | " + " | ".join(spread) + " |"
                   + " — |" * 4)
        p50, p99 = col("p50_ms"), col("p99_ms")
        if any(v is not None for v in p50.values()):
            out.append(metric_row("latency p50 (ms)", p50, fmt_ms, False))
        if any(v is not None for v in p99.values()):
            out.append(metric_row("latency p99 (ms)", p99, fmt_ms, False))
        rss = {t: (v / 1024 if v is not None else None) for t, v in col("rss_kib").items()}
        rss["direct"] = None
        out.append(metric_row("proxy RSS after the cell (MiB)", rss,
                              lambda v: "n/a" if v is None else f"{v:.1f}", False, with_direct=False))
        cpu = col("cpu_pct")
        cpu["direct"] = None
        out.append(metric_row("proxy CPU (% of one core)", cpu,
                              lambda v: "n/a" if v is None else f"{v:.0f}", False, with_direct=False))
        eff = {t: (thr[t] / (cpu[t] / 100.0)
                   if thr.get(t) is not None and cpu.get(t) else None) for t in PROXIES}
        out.append(metric_row(f"throughput per proxy CPU-second ({unit})", eff,
                              lambda v: fmt_throughput(v, unit), True, with_direct=False))
        busy = [f"{r['cpu0_busy_pct']} / {r['cpu1_busy_pct']}" if r else "n/a"
                for r in (rows[t] for t in TARGETS)]
        out.append("| CPU 0 / CPU 1 busy, whole box (%) | " + " | ".join(busy) + " |" + " — |" * 4)
        loads = {t: num(rows[t]["cpu1_busy_pct"]) for t in PROXIES
                 if rows[t] and num(rows[t]["cpu1_busy_pct"]) is not None}
        if len(loads) > 1 and max(loads.values()) - min(loads.values()) > 20:
            listed = ", ".join(f"{t} {v:.0f}%" for t, v in loads.items())
            notes.append(f"{title}: CPU 1 was not equally busy during the kept cells ({listed});"
                         " the proxy with the lower figure ran while other work on the box paused,"
                         " so this comparison is skewed. Rerun when the box is idle.")
        if workload == "dns_udp":
            lost = {t: (num(r["errors"]) if r else None) for t, r in rows.items()}
            out.append("| lost queries | " + " | ".join(
                "n/a" if lost[t] is None else f"{lost[t]:.0f}" for t in TARGETS) + " |"
                + " — |" * 4)
        for target, row in rows.items():
            if row and row["errors"] not in ("", "0"):
                notes.append(f"{title}, {target}: {row['errors']} client-reported errors.")
    return notes


def memory_table(memory, out, conns):
    by_target = {row["target"]: row for row in memory}
    out.append("| metric | haproxy | nginx | l4lb | l4lb ÷ better peer |")
    out.append("|---|---|---|---|---|")

    def field(name, scale=1.0):
        values = {}
        for target in PROXIES:
            row = by_target.get(target)
            value = num(row[name]) if row and row["status"] == "ok" else None
            values[target] = value / scale if value is not None else None
        return values

    def row(label, values, fmt):
        cells = [label] + [fmt(values.get(t)) for t in PROXIES]
        cells.append(fmt_ratio(ratio(values.get("l4lb"), pick_peer(values, False))))
        out.append("| " + " | ".join(cells) + " |")

    mib = lambda v: "n/a" if v is None else f"{v:.1f}"  # noqa: E731
    row("RSS after all throughput runs (MiB)", field("rss_after_runs_kib", 1024), mib)
    row("RSS before opening the idle connections (MiB)", field("rss_before_kib", 1024), mib)
    row(f"RSS holding {conns} idle proxied connections (MiB)", field("rss_held_kib", 1024), mib)
    row("RSS per idle connection (KiB/conn)", field("kib_per_conn"),
        lambda v: "n/a" if v is None else f"{v:.2f}")
    ok = {t: (by_target[t]["conns_ok"] if t in by_target else "n/a") for t in PROXIES}
    out.append("| connections that answered PING | " + " | ".join(ok[t] for t in PROXIES) + " | |")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--results", required=True)
    parser.add_argument("--memory", required=True)
    parser.add_argument("--meta", required=True)
    args = parser.parse_args()

    meta = {}
    with open(args.meta) as f:
        for line in f:
            key, _, value = line.rstrip("\n").partition("\t")
            meta[key] = value

    out = ["# l4lb side-by-side benchmark: direct vs HAProxy vs nginx stream vs l4lb", ""]
    out.append(f"- Date: {meta.get('date', '?')}")
    out.append(f"- Command: `{meta.get('command', '?')}` (run took {meta.get('elapsed', '?')})")
    out.append(f"- Kernel: `{meta.get('kernel', '?')}`; CPU: {meta.get('cpu', '?')}"
               f" ({meta.get('ncpu', '?')} CPUs{meta.get('virt', '')})")
    out.append(f"- Versions: {meta.get('versions', '?')}")
    out.append(f"- Pinning: {meta.get('pinning', '?')}")
    out.append(f"- Equal settings: {meta.get('settings', '?')}")
    out.append(f"- Cells: {meta.get('cells', '?')}")
    out.append(f"- sysctl: {meta.get('sysctl', '?')}")
    out.append(f"- Load: {meta.get('load', '?')}")
    out.append("")
    out.append("Ratios: `l4lb ÷ better peer` divides l4lb by the better of HAProxy and nginx"
               " (the higher throughput, or the lower latency / RSS), so above 1 is better for"
               " throughput and worse for latency and memory. `X ÷ direct` is the share of the"
               " direct (no proxy) ceiling for throughput, and the latency multiple for latency.")
    out.append("")
    results = read_tsv(args.results)
    foreign = [num(r["cpu1_busy_pct"]) for r in results
               if r["target"] == "direct" and r["status"] == "ok" and num(r["cpu1_busy_pct"]) is not None]
    if foreign:
        mean = sum(foreign) / len(foreign)
        out.append(f"**Other load on the proxy CPU**: during the direct cells, when nothing of the"
                   f" benchmark runs on CPU 1, CPU 1 was {mean:.0f}% busy on average"
                   f" (min {min(foreign):.0f}%, max {max(foreign):.0f}%)."
                   + (" The proxies shared CPU 1 with that other work, so absolute proxied numbers"
                      " are low and noisy; `throughput per proxy CPU-second` and the ratios between"
                      " proxies (interleaved rounds) are the more robust comparison."
                      if mean > 10 else " The proxy CPU was essentially free for the proxy."))
        out.append("")
    notes = main_table(best_rows(results), out, round_ranges(results))
    out.append("")
    out.append(f"## Memory: {meta.get('idle_conns', '?')} idle connections through each proxy"
               " to the Redis backend (each sent PING and got +PONG, then held)")
    out.append("")
    memory_table(read_tsv(args.memory), out, meta.get("idle_conns", "?"))
    out.append("")
    out.append("## How to read this")
    out.append("")
    out.append("- Loopback, not a NIC: the `lo` MTU is 64 KiB, so Gbit/s figures are not line rates.")
    out.append("- Receive processing on loopback is charged to the sending CPU's softirq, so the"
               " per-process `proxy CPU` under-counts the kernel work done for the proxy; the whole-box"
               " `CPU 0 / CPU 1 busy` row includes it.")
    out.append("- When CPU 0 (clients + backends) is near 100%, the row measures that CPU as much as the"
               " proxy; `throughput per proxy CPU-second` is then the fairer efficiency figure.")
    out.append("- Throughput is measured at saturation, so its latencies include queueing; the"
               " sequential PING workload is the unloaded per-hop latency.")
    out.append("- Reproduce with the command above; per-round raw values are in the TSV files"
               " (`bench/results/latest/` by default).")
    out.append("")
    out.append("## Notes")
    out.append("")
    all_notes = notes + [n for n in meta.get("notes", "").split(" || ") if n]
    for note in all_notes or ["none"]:
        out.append(f"- {note}")
    print("\n".join(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
