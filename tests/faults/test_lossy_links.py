"""Scenario 11: lossy links. nftables drops 1% and then 5% of the TCP segments at random
(numgen random) on the l4lb host, in both directions on the client link and the backend links:
TCP recovers, so 0 failed and 0 corrupt: l4lb must not time out what is only slow."""

from __future__ import annotations

import pytest

import netns_setup
from faults import brief, run_client, size

SCENARIO = "11 lossy links"


@pytest.mark.parametrize("loss", [1, 5])
def test_lossy_links_fail_and_corrupt_nothing(loss, topo, l4lb, workdir, record):
    # A lost SYN is retransmitted after 1 s, a second one after 3 s more: the connect timeout
    # leaves room for two, as a slow path deserves.
    proc, backends, target, _ = netns_setup.start(topo, l4lb, workdir,
                                                  pool={"connect_timeout": "5s"})
    topo.nft("lb", f"""table inet faults {{
  chain in {{ type filter hook input priority 0; policy accept;
    meta l4proto tcp numgen random mod 100 < {loss} drop; }}
  chain out {{ type filter hook output priority 0; policy accept;
    meta l4proto tcp numgen random mod 100 < {loss} drop; }}
}}""")
    count = size(300, 2000)
    length = size(16384, 65536)
    r = run_client(workdir, target, netns_setup.client_args(topo) + [
        "--count", str(count), "--concurrency", "50", "--bytes", str(length),
        "--connect-timeout", "30s", "--stall", "60s", "--duration", "300s"],
        wrap=topo.wrap("client"))
    server = [b.summary() for b in backends]
    figures = {"loss_pct": loss, "attempted": r["attempted"], "failed": r["failed"],
               "corrupt": r["corrupt"], "bytes_each": length,
               "backend_corrupt": sum(s["corrupt"] for s in server),
               "p99_total_ms": r["total_ms"]["p99"]}
    record(figures, scenario=f"{SCENARIO} ({loss}%)")
    assert r["attempted"] == count and r["failed"] == 0, brief(r)
    assert r["corrupt"] == 0 and figures["backend_corrupt"] == 0, figures
    assert proc.alive()
