"""Scenario 7: a flapping backend, killed and started again every 2 s (full tier: for a
minute) under steady load. rise/fall obeyed (no more transitions than the flaps allow), no
crash, no leak; no client is refused or stalled (retries go past the dead backend), no byte
corrupt."""

from __future__ import annotations

import re
import signal
import time

from net import wait_until

import faults
import proxies
from faults import Client, brief, size

SCENARIO = "7 flapping backend"


def test_flapping_backend_obeys_rise_and_fall_and_leaks_nothing(l4lb, workdir, backends,
                                                               record):
    b1, b2, b3 = backends(3)
    port = faults.free_port()
    proc = l4lb(proxies.l4lb_config(port, [b1, b2, b3]), ready=[f"tcp://127.0.0.1:{port}"])
    assert wait_until(lambda: proc.stderr().count(": unknown -> up") >= 3, 15), proc.describe()
    target = f"127.0.0.1:{port}"
    faults.run_client(workdir, target, ["--count", "50", "--concurrency", "10"])
    baseline_fds = faults.fd_count(proc.pid)
    seconds = size(12, 60)
    load = Client(workdir, target, ["--rate", "100", "--count", str(100 * (seconds + 2)),
                                    "--duration", f"{seconds + 2}s", "--bytes", "1024",
                                    "--stall", "10s"], name="load")
    flaps = 0
    flapper = b2
    start = time.monotonic()
    while time.monotonic() - start < seconds:
        time.sleep(2)
        flapper.kill(signal.SIGKILL)
        flapper.proc.wait(10)
        flaps += 1
        time.sleep(2)
        flapper = faults.Backend(workdir, f"b2-{flaps}", port=b2.port)
    r = load.result()
    flapper.stop()
    name = b2.url.removeprefix("tcp://")
    downs = len(re.findall(rf"{re.escape(name)}.*up -> down", proc.stderr()))
    ups = len(re.findall(rf"{re.escape(name)}.*down -> up", proc.stderr()))
    fds_back = faults.settle(lambda: faults.fd_count(proc.pid) <= baseline_fds, 15)
    figures = {"flaps": flaps, "seconds": seconds, "marked_down": downs, "marked_up": ups,
               "attempted": r["attempted"], "failed": r["failed"],
               "failures": r["failures"], "corrupt": r["corrupt"],
               "fds_over_baseline": faults.fd_count(proc.pid) - baseline_fds}
    record(figures)
    assert proc.alive(), proc.describe()
    # fall = 2 checks 300 ms apart fit in each 2 s down: every flap is seen, none invented.
    assert 1 <= downs <= flaps and ups <= flaps, figures
    # Clients are never refused or left hanging: only those in flight on the killed backend
    # may end early (with its FIN or RST).
    assert r["failures"].get("connect", 0) == 0 and r["failures"].get("timeout", 0) == 0, \
        brief(r)
    assert r["corrupt"] == 0, brief(r)
    assert fds_back, figures
