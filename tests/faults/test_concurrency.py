"""Scenario 1: concurrency held. Thousands of proxied connections open at once (full tier:
8,000, i.e. 16,000 descriptors in l4lb under this machine's cap of 20,000), each sending a little
every few seconds for a bounded time: 0 failed, 0 corrupt, RSS flat while they are held."""

from __future__ import annotations

import time

from net import wait_until

import faults
import proxies
from faults import Client, brief, size

SCENARIO = "1 concurrency held"


def test_thousands_of_concurrent_connections_fail_nothing_and_memory_stays_flat(
        l4lb, workdir, backends, record):
    bs = backends(3)
    port = faults.free_port()
    proc = l4lb(proxies.l4lb_config(port, bs), ready=[f"tcp://127.0.0.1:{port}"])
    assert wait_until(lambda: proc.stderr().count(": unknown -> up") >= 3, 15), proc.describe()
    target = f"127.0.0.1:{port}"
    faults.run_client(workdir, target, ["--count", "50", "--concurrency", "10"])
    rss_idle = faults.rss_kib(proc.pid)
    n = size(2000, 8000)
    bursts = size(4, 8)
    hold = Client(workdir, target, ["--count", str(n), "--concurrency", str(n), "--bytes",
                                    str(64 * bursts), "--chunk", "64", "--gap", "3s",
                                    "--connect-timeout", "20s", "--stall", "30s",
                                    "--duration", "60s"], name="hold")
    assert wait_until(lambda: faults.process_sockets(proc.pid, ("ESTAB",)) >= 2 * n, 60), \
        f"only {faults.process_sockets(proc.pid, ('ESTAB',))} sockets"
    samples = []
    for _ in range(bursts - 1):
        samples.append(faults.rss_kib(proc.pid))
        time.sleep(2)
    r = hold.result()
    figures = {"concurrent": n, "held_s": 3 * bursts, "attempted": r["attempted"],
               "failed": r["failed"], "corrupt": r["corrupt"], "rss_idle_kib": rss_idle,
               "rss_held_min_max_kib": [min(samples), max(samples)],
               "rss_per_conn_kib": round((max(samples) - rss_idle) / n, 1),
               "peak_fds": 2 * n}
    record(figures)
    assert r["attempted"] == n and r["failed"] == 0, brief(r)
    assert r["corrupt"] == 0
    # Flat: what the held connections cost does not grow while they are held.
    assert max(samples) <= min(samples) * 1.25 + 8192, figures
    assert proc.alive()
