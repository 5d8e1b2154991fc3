"""Scenario 8: descriptor exhaustion. l4lb under `prlimit --nofile=1024` is offered thousands
of connections at once: no accept spin (each logged pause count stays small), the admin API
keeps answering, the connections it already held: 0 failed, and once the flood is gone new
connections: 0 failed."""

from __future__ import annotations

import re
import subprocess
import time

from net import wait_until

import faults
import proxies
from faults import Client, brief, size

SCENARIO = "8 descriptor exhaustion (nofile 1024)"
PAUSES = re.compile(r"accept failed: .*\((\d+) pauses since last log\)")


def admin_answers(sock) -> bool:
    out = subprocess.run(["curl", "-sS", "--max-time", "5", "--unix-socket", str(sock),
                          "http://l4lb/api/v1/status"], capture_output=True, text=True,
                         timeout=15)
    return out.returncode == 0 and '"config"' in out.stdout


def test_descriptor_exhaustion_neither_spins_nor_drops_held_connections(l4lb, workdir, backends,
                                                                        record):
    bs = backends(2)
    port = faults.free_port()
    sock = workdir / "admin.sock"
    config = proxies.l4lb_config(port, bs) + f'\n[admin]\nlisten = ["unix://{sock}"]\n'
    proc = l4lb(config, ready=[f"tcp://127.0.0.1:{port}"],
                wrapper=["prlimit", "--nofile=1024:1024", "--"])
    assert wait_until(lambda: proc.stderr().count(": unknown -> up") >= 2, 15), proc.describe()
    target = f"127.0.0.1:{port}"

    held_count = 100
    held = Client(workdir, target, ["--bytes", str(512 * 40), "--chunk", "512", "--gap", "300ms",
                                    "--count", str(held_count), "--concurrency",
                                    str(held_count), "--stall", "20s"], name="held")
    assert wait_until(lambda: faults.process_sockets(proc.pid, ("ESTAB",)) >= 2 * held_count, 15)
    offered = size(2000, 5000)
    flood = Client(workdir, target, ["--bytes", str(512 * 8), "--chunk", "512", "--gap", "400ms",
                                     "--count", str(offered), "--concurrency", str(offered),
                                     "--connect-timeout", "20s", "--stall", "20s",
                                     "--duration", "5s"], name="flood")
    assert wait_until(lambda: "accept failed" in proc.stderr(), 15), proc.describe()
    cpu0, t0 = faults.cpu_seconds(proc.pid), time.monotonic()
    answered = [admin_answers(sock) for _ in range(3)]
    time.sleep(2)
    cpu_pct = 100 * (faults.cpu_seconds(proc.pid) - cpu0) / (time.monotonic() - t0)
    held_r, flood_r = held.result(), flood.result()
    released_at = time.monotonic()
    after = faults.run_client(workdir, target, ["--count", "300", "--concurrency", "50",
                                                "--bytes", "2048"])
    pauses = [int(n) for n in PAUSES.findall(proc.stderr())]
    figures = {"nofile": 1024, "held": held_count, "held_failed": held_r["failed"],
               "offered": offered, "flood_ok": flood_r["ok"], "flood_failed": flood_r["failed"],
               "cpu_pct_exhausted": round(cpu_pct), "max_pauses_per_log_line": max(pauses,
                                                                                   default=0),
               "admin_answered": f"{sum(answered)}/{len(answered)}",
               "after_release_attempted": after["attempted"],
               "after_release_failed": after["failed"],
               "first_after_release_ms": round(after["connect_ms"]["max"])}
    record(figures)
    del released_at

    assert held_r["attempted"] == held_count and held_r["failed"] == 0, brief(held_r)
    assert held_r["corrupt"] == 0 and flood_r["corrupt"] == 0
    assert all(answered), f"the admin API did not answer while descriptors ran out: {figures}"
    # A pause per failed accept, backing off: never the thousands of a spinning loop.
    assert pauses and max(pauses) <= 100, figures
    assert after["failed"] == 0, brief(after)
