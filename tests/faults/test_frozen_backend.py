"""Scenario 6 (SIGSTOP part): a frozen backend. Its kernel still completes handshakes, so its
connections stall rather than fail; l4lb ends them at the listener's idle_timeout (a FIN or an
RST, never left hanging), buffers a bounded amount for them, and the other backends' clients:
0 failed."""

from __future__ import annotations

import signal

from net import wait_until

import faults
import proxies
from faults import brief, size

SCENARIO = "6 frozen backend (SIGSTOP)"
IDLE_S = 3


def test_frozen_backend_connections_end_at_idle_timeout_and_others_fail_nothing(
        l4lb, workdir, backends, record):
    b1, b2, b3 = backends(3)
    port = faults.free_port()
    proc = l4lb(proxies.l4lb_config(port, [b1, b2, b3], listener={"idle_timeout": f"{IDLE_S}s"}),
                ready=[f"tcp://127.0.0.1:{port}"])
    assert wait_until(lambda: proc.stderr().count(": unknown -> up") >= 3, 15), proc.describe()
    target = f"127.0.0.1:{port}"
    count = size(300, 1500)
    args = ["--count", str(count), "--concurrency", "60", "--bytes", "65536", "--stall", "30s",
            "--duration", "120s"]
    before = faults.run_client(workdir, target, args)
    served_before = b1.summary()["ok"] + b3.summary()["ok"]
    rss_before = faults.rss_kib(proc.pid)
    b2.kill(signal.SIGSTOP)
    try:
        during = faults.run_client(workdir, target, args)
        rss_during = faults.rss_kib(proc.pid)
    finally:
        b2.kill(signal.SIGCONT)
    served = b1.summary()["ok"] + b3.summary()["ok"] - served_before
    other_failed = b1.summary()["failed"] + b3.summary()["failed"]
    stalled = during["failed"]
    figures = {"connections": count, "stalled_on_frozen": stalled,
               "stalled_end_kinds": during["ends"], "others_ok": during["ok"],
               "others_served_by_backends": served, "others_failed": other_failed,
               "p99_ms_before": before["total_ms"]["p99"],
               "p99_ms_others_during": during["total_ms"]["p99"], "idle_timeout_s": IDLE_S,
               "rss_kib_growth_per_stalled": round((rss_during - rss_before) / max(stalled, 1),
                                                   1)}
    record(figures)
    assert before["failed"] == 0, brief(before)
    assert stalled > 0, brief(during)
    # Every stalled connection was ended by l4lb's idle timeout, none by the client's own.
    assert during["failures"].get("timeout", 0) == 0, brief(during)
    assert during["corrupt"] == 0
    # Every other connection succeeded: the clients' successes are the backends' successes.
    assert during["ok"] == served and other_failed == 0, figures


def test_backend_on_a_1mbit_link_is_slow_not_failed_and_buffers_stay_bounded(topo, l4lb, workdir,
                                                                            record):
    """Scenario 6 (tbf part): b3's link shaped to 1 Mbit/s each way by tc tbf, in the namespaces.
    Its connections are slow, not failed; l4lb's memory per connection stays bounded (it stops
    reading a client whose backend does not take the bytes); the others carry on."""
    import netns_setup
    proc, backends, target, _ = netns_setup.start(topo, l4lb, workdir)
    client = netns_setup.client_args(topo)
    count = size(150, 600)
    args = ["--count", str(count), "--concurrency", "60", "--bytes", "16384", "--stall", "60s",
            "--connect-timeout", "10s", "--duration", "300s"]
    before = faults.run_client(workdir, target, client + args, wrap=topo.wrap("client"))
    rss_before = faults.rss_kib(proc.pid)
    tag = topo.tag
    for host, dev in (("lb", f"b3l{tag}"), ("b3", f"b3x{tag}")):
        topo.run(host, ["tc", "qdisc", "add", "dev", dev, "root", "tbf", "rate", "1mbit",
                        "burst", "16kb", "latency", "400ms"])
    slow = faults.Client(workdir, target, client + args, wrap=topo.wrap("client"), name="slow")
    peak_rss = rss_before
    while slow.proc.poll() is None:
        peak_rss = max(peak_rss, faults.rss_kib(proc.pid))
        faults.time.sleep(0.5)
    during = slow.result()
    sums = {b.name: b.summary() for b in backends}
    figures = {"connections": count, "failed": during["failed"], "corrupt": during["corrupt"],
               "p99_ms_before": before["total_ms"]["p99"],
               "p50_ms_during": during["total_ms"]["p50"],
               "p99_ms_during": during["total_ms"]["p99"],
               "served_by_slow_b3": sums["b3"]["ok"],
               "rss_kib_peak_growth": peak_rss - rss_before}
    record(figures, scenario="6 slow backend (tbf 1 Mbit/s)")
    assert before["failed"] == 0, brief(before)
    assert during["failed"] == 0 and during["corrupt"] == 0, brief(during)
    assert sum(s["failed"] for s in sums.values()) == 0, sums
    # Two 16 KiB buffers a connection at most (proxy/buffer_pool.h), 60 open at once, plus the
    # allocator's slack: no unbounded buffering of what the slow link cannot take yet.
    assert figures["rss_kib_peak_growth"] <= 60 * 64 + 16384, figures
