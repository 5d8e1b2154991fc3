"""Scenario 12: UDP flows. Flows of request/response pairs keep their backend across reloads
and a binary upgrade, and no reply ever reaches the wrong client; a flood of new sources keeps
the flow table within max_flows (the oldest are evicted)."""

from __future__ import annotations

import re
import signal
import time

from admin_api import admin_get
from config_gen import config_toml
from net import wait_until

import faults
from faults import Client, brief, size

SCENARIO = "12 UDP flows"
DONE = r"upgrade from pid \d+ done"
MAX_FLOWS = 2000


def flows_active(sock) -> int:
    m = re.search(r"^l4lb_datagram_flows_active (\d+)", admin_get(sock, "/metrics"), re.M)
    return int(m.group(1)) if m else -1


def flow_metric(sock, name: str) -> int:
    """A datagram flow counter of the running l4lb (summed over its labels)."""
    text = admin_get(sock, "/metrics")
    return sum(int(float(v)) for v in re.findall(rf"^{re.escape(name)}(?:{{[^}}]*}})? (\S+)", text, re.M))


def udp_rcvbuf_errors() -> int:
    """The kernel's count of datagrams dropped for a full receive buffer (this namespace)."""
    lines = [ln.split() for ln in open("/proc/net/snmp") if ln.startswith("Udp:")]
    return int(lines[1][lines[0].index("RcvbufErrors")])


def test_udp_flows_keep_their_backend_across_reloads_and_upgrade(l4lb, workdir, backends,
                                                                record):
    bs = backends(3)
    port = faults.free_port()
    path, sock = workdir / "udp.toml", workdir / "admin.sock"
    path.write_text(config_toml(
        [{"name": "dns", "bind": f"udp://127.0.0.1:{port}", "pool": "udp",
          "flow_idle_timeout": "30s", "max_flows": MAX_FLOWS}],
        {"udp": {"balance": "round-robin",
                 "backends": [{"address": f"udp://127.0.0.1:{b.port}"} for b in bs]}},
        {"workers": 2, "access_log": "off", "shutdown_grace": "20s"})
        + f'\n[admin]\nlisten = ["unix://{sock}"]\n')
    proc = l4lb(args=["-c", str(path)], ready=[f"udp://127.0.0.1:{port}"])
    target = f"127.0.0.1:{port}"
    drops_before = udp_rcvbuf_errors()
    flows = size(1000, 10000)
    requests = 12
    # Half the table each: the flows stay under max_flows per worker, so none is evicted.
    flows_run = Client(workdir, target, ["--flows", str(flows), "--concurrency",
                                         str(min(flows, MAX_FLOWS)), "--requests",
                                         str(requests), "--gap", "500ms", "--reply-timeout",
                                         "2s", "--duration", "120s"], udp=True, name="flows")
    time.sleep(1.5)
    for _ in range(3):
        proc.send_signal(signal.SIGHUP)
        time.sleep(1)
    successor = l4lb(args=["-c", str(path), "--upgrade-from", f"unix://{sock}"])
    assert successor.wait_log(DONE, 30) is not None, successor.describe()
    r = flows_run.result()
    kernel_drops = udp_rcvbuf_errors() - drops_before
    evicted = flow_metric(sock, 'l4lb_datagram_flows_ended_total{reason="evicted"}')

    # A flood of new sources, one datagram each, well past the table's size.
    flood_n = size(3 * MAX_FLOWS, 10 * MAX_FLOWS)
    flood = Client(workdir, target, ["--flows", str(flood_n), "--concurrency", "500",
                                     "--requests", "1", "--reply-timeout", "2s",
                                     "--duration", "60s"], udp=True, name="flood")
    peak = 0
    while flood.proc.poll() is None:
        peak = max(peak, flows_active(sock))
        time.sleep(0.2)
    f = flood.result()
    figures = {"flows": flows, "requests_each": requests, "reloads": 3, "upgrades": 1,
               "replies": r["udp"]["replies"], "lost": r["udp"]["lost"],
               "wrong_client": r["udp"]["wrong_client"],
               "switched_backend": r["udp"]["flows_switched_backend"],
               "kernel_rcvbuf_drops": kernel_drops, "evicted_after_upgrade": evicted,
               "flood_sources": flood_n, "flood_wrong_client": f["udp"]["wrong_client"],
               "flows_active_peak": peak, "max_flows_x_workers": 2 * MAX_FLOWS}
    record(figures)
    assert r["udp"]["wrong_client"] == 0 and f["udp"]["wrong_client"] == 0, figures
    assert r["udp"]["flows_switched_backend"] == 0, figures
    assert r["udp"]["lost"] == 0 and r["failed"] == 0, brief(r)
    assert 0 < peak <= 2 * MAX_FLOWS, figures
