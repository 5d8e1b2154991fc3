"""Markdown for bench/packet.py's results: the table (variants across), the Targets ratios."""

from __future__ import annotations

NAMES = {
    "V0": "V0 direct", "V1": "V1 kernel router", "V2": "V2 nft DNAT", "V3": "V3 HAProxy",
    "V4": "V4 l4lb proxy", "V5": "V5 l4lb dsr", "V6": "V6 l4lb ipip",
}


def best(rows: list[dict], variant: str, workload: str) -> dict | None:
    """The best round: highest throughput, or for the fixed-rate latency cell the lowest p99."""
    mine = [r for r in rows if r["variant"] == variant and r["workload"] == workload]
    if not mine:
        return None
    if workload == "latency":
        return min(mine, key=lambda r: r.get("p99", 1e9))
    if workload == "iperf3":
        return max(mine, key=lambda r: r.get("gbps", 0))
    return max(mine, key=lambda r: r.get("rps", 0))


def fmt(v, spec: str) -> str:
    return "n/a" if v is None else format(v, spec)


def render(results: dict) -> str:
    rows = results["rows"]
    variants = [v for v in NAMES if any(r["variant"] == v for r in rows)]
    meta = results["meta"]
    cell = {(v, w): best(rows, v, w) for v in variants
            for w in ("keepalive", "close", "latency", "iperf3")}

    def get(v, w, key):
        r = cell.get((v, w))
        return None if r is None else r.get(key)

    lines = ["| measure | " + " | ".join(NAMES[v] for v in variants) + " |",
             "|---|" + "---|" * len(variants)]

    def row(title, w, key, spec):
        lines.append(f"| {title} | " + " | ".join(fmt(get(v, w, key), spec) for v in variants) + " |")

    row("wrk keep-alive, req/s", "keepalive", "rps", ",.0f")
    row("wrk `Connection: close`, req/s", "close", "rps", ",.0f")
    lines.append("| latency at a bounded rate, p50 / p99 ms (achieved req/s) | " + " | ".join(
        "n/a" if get(v, "latency", "p50") is None else
        f"{get(v, 'latency', 'p50'):.3f} / {get(v, 'latency', 'p99'):.3f} "
        f"({get(v, 'latency', 'rps'):,.0f})" for v in variants) + " |")
    row("CPU µs per request, keep-alive (benchmark cgroup + ksoftirqd)", "keepalive",
        "us_per_req", ".1f")
    row("CPU µs per request, `Connection: close`", "close", "us_per_req", ".1f")
    row("whole-box busy µs per request, keep-alive (/proc/stat, includes other work)",
        "keepalive", "box_us_per_req", ".1f")
    lines.append("| wrk socket errors + non-2xx, keep-alive / close | " + " | ".join(
        f"{fmt(get(v, 'keepalive', 'errors'), 'd')} / {fmt(get(v, 'close', 'errors'), 'd')}"
        for v in variants) + " |")
    lines.append("| iperf3 1 stream, Gbit/s (see note: not a fair comparison) | " + " | ".join(
        fmt(get(v, "iperf3", "gbps"), ".2f") for v in variants) + " |")
    bpf = results.get("bpf", {})
    lines.append("| XDP program ns/packet under keep-alive load (bpf_stats) | " + " | ".join(
        ", ".join(f"{n} {s['ns_per_packet']:.0f}" for n, s in bpf.get(v, {}).items()) or "-"
        for v in variants) + " |")

    out = ["## Results", "", *lines, ""]
    if results.get("unit_test"):
        out += [f"BPF_PROG_TEST_RUN (unit test, repeat runs of the real program): "
                f"{results['unit_test']}", ""]

    def ratio(a, b, w, key):
        x, y = get(a, w, key), get(b, w, key)
        return None if x is None or y is None or y == 0 else x / y

    targets = []
    for lb in ("V5", "V6"):
        if lb not in variants:
            continue
        for w, title in (("keepalive", "keep-alive"), ("close", "close")):
            targets.append((f"req/s {NAMES[lb]} / V1 kernel router, {title}",
                            ratio(lb, "V1", w, "rps"), ">= 0.9", lambda r: r >= 0.9))
            for peer in ("V3", "V4"):
                targets.append((f"req/s {NAMES[lb]} / {NAMES[peer]}, {title}",
                                ratio(lb, peer, w, "rps"), ">= 1.5", lambda r: r >= 1.5))
            targets.append((f"CPU per request {NAMES[lb]} / V4 l4lb proxy, {title}",
                            ratio(lb, "V4", w, "us_per_req"), "<= 0.6", lambda r: r <= 0.6))
    # The same ratios for the kernel's own balancers, for scale.
    for w, title in (("keepalive", "keep-alive"), ("close", "close")):
        for a, b in (("V2", "V1"), ("V4", "V3"), ("V1", "V4")):
            if a in variants and b in variants:
                targets.append((f"req/s {NAMES[a]} / {NAMES[b]}, {title}", ratio(a, b, w, "rps"),
                                "-", None))
        # What no balancer in front can beat: the client and backends' own CPU per request
        # (V0) and the kernel's forwarding (V1), against the proxies'.
        for a, b in (("V0", "V4"), ("V1", "V4"), ("V1", "V3")):
            if a in variants and b in variants:
                targets.append((f"CPU per request {NAMES[a]} / {NAMES[b]}, {title}",
                                ratio(a, b, w, "us_per_req"), "-", None))
    if targets:
        out += ["## Ratios (this run)", "", "| ratio | measured | target |", "|---|---|---|"]
        for title, r, target, ok in targets:
            verdict = "" if ok is None or r is None else (" (met)" if ok(r) else " (not met)")
            out.append(f"| {title} | {fmt(r, '.2f')} | {target}{verdict} |")
        out.append("")
    if results.get("skipped"):
        out += ["Skipped: " + "; ".join(f"{v} ({why})" for v, why in results["skipped"].items()), ""]
    if results.get("failed"):
        out += ["Failed cells: " + "; ".join(results["failed"]), ""]
    out += [
        "## How it ran", "",
        f"- {meta['date']}, kernel {meta['kernel']}, {meta['ncpu']} CPUs, {meta['elapsed_s']} s;"
        f" command: `{meta['command']}`",
        f"- best of {meta['rounds']} rounds ({meta['seconds']} s cells), variants interleaved per"
        " round; keep-alive and close: `wrk -t2 -c50 --latency`; latency: `wrk -t1 -c"
        "10 --latency` with a Lua `delay()` of 2 ms between a connection's requests (a bounded"
        " rate, the best of the rounds by p99); iperf3: `iperf3 -c VIP -t N`, one stream to be1.",
        f"- CPU: every process (wrk, the 3 nginx backends with 1 worker each, iperf3, HAProxy with"
        f" nbthread {meta['threads']}, l4lb with workers = {meta['threads']}) runs unpinned on"
        f" both CPUs at nice {meta['nice']}"
        " in one cgroup of its own (cgroup v2 `cpu.stat`, or v1 `cpuacct`); the kernel variants have no"
        " process on lb at all, their forwarding runs in softirq in the sending task's context"
        " and is charged to that cgroup.",
        f"- load average {meta['load_start']} at the start, {meta['load_end']} at the end (other"
        " agents' builds share this box; whole-box figures include them).",
    ]
    return "\n".join(out)
