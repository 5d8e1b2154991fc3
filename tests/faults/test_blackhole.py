"""Scenario 5: a backend blackholed (nftables drops every packet to it, on the l4lb host).
Connects to it time out as configured; with retries, new connections: 0 failed; the active
check marks it down within fall x interval + timeout."""

from __future__ import annotations

import re
import time

from net import wait_until

import faults
import netns_setup
from faults import Client, brief, size

SCENARIO = "5 backend blackholed"


def test_blackholed_backend_fails_no_new_connection_and_is_marked_down(topo, l4lb, workdir,
                                                                      record):
    proc, backends, target, _ = netns_setup.start(topo, l4lb, workdir)
    b2 = topo.backend_addresses["b2"]
    rate = size(100, 500)
    seconds = size(6, 20)
    load = Client(workdir, target, netns_setup.client_args(topo) + [
        "--rate", str(rate), "--count", str(rate * seconds), "--duration", f"{seconds}s",
        "--bytes", "2048", "--connect-timeout", "10s", "--stall", "10s"],
        wrap=topo.wrap("client"))
    time.sleep(1.5)
    topo.nft("lb", f"""table inet faults {{
  chain out {{ type filter hook output priority 0; policy accept; ip daddr {b2} drop; }}
}}""")
    blackholed_at = time.monotonic()
    down = wait_until(lambda: re.search(r"b2.*up -> down|198\.51\.100\.12.*up -> down",
                                        proc.stderr()) is not None, 15)
    down_after = time.monotonic() - blackholed_at
    r = load.result()
    timeouts = len(re.findall(r"timed out|timeout", proc.stderr()))
    figures = {"offered_per_s": rate, "attempted": r["attempted"], "failed": r["failed"],
               "corrupt": r["corrupt"], "marked_down": down,
               "down_after_ms": round(down_after * 1000),
               "bound_ms": 2 * (550 + 500), "p99_connect_ms": r["connect_ms"]["p99"],
               "timeout_log_lines": timeouts}
    record(figures)
    assert down, proc.describe()
    assert r["failed"] == 0, brief(r)
    assert r["corrupt"] == 0
    del backends
