"""Scenario 2: reloads under load. New connections at a fixed rate plus long-lived checksummed
streams while the config is reloaded again and again (weights, backends and a listener added
and removed, one invalid file among them): 0 failed, 0 corrupt, descriptors back to baseline."""

from __future__ import annotations

import signal
import time

from config_gen import config_toml
from net import wait_until

import faults
from faults import Client, brief, size

SCENARIO = "2 reload under load"
RELOAD_LINE = "reloaded "
FAILED_LINE = "reload failed, still serving"


def write_config(path, admin_sock, n, port, extra_port, backends, invalid=False):
    """Config number n: even ones have b1..b3 and an extra listener, odd ones b2 and b3 with
    weights that change; the invalid one misspells a key (the reload must change nothing)."""
    b1, b2, b3 = backends
    health = {"check": "tcp", "interval": "300ms", "timeout": "300ms", "rise": 1, "fall": 2}
    if n % 2 == 0:
        members = [{"address": b.url, "name": b.name, "weight": 1 + (n // 2) % 3} for b in backends]
    else:
        members = [{"address": b2.url, "name": b2.name, "weight": 1 + n % 4},
                   {"address": b3.url, "name": b3.name, "weight": 2}]
    listeners = [{"name": "front", "bind": f"tcp://127.0.0.1:{port}", "pool": "web",
                  "idle_timeout": "60s"}]
    if n % 2 == 0:
        listeners.append({"name": "extra", "bind": f"tcp://127.0.0.1:{extra_port}",
                          "pool": "web"})
    text = config_toml(listeners, {"web": {"balance": "round-robin", "retries": 2,
                                           "connect_timeout": "1s", "health": health,
                                           "backends": members}},
                       {"workers": 2, "access_log": "off", "shutdown_grace": "20s"})
    if invalid:
        text = text.replace('balance = "round-robin"', 'balance = "round-robin"\nretires = 2')
    path.write_text(text + f'\n[admin]\nlisten = ["unix://{admin_sock}"]\n')


def test_reloads_under_load_fail_no_connection_and_corrupt_no_byte(l4lb, workdir, backends,
                                                                  record):
    bs = backends(3)
    port, extra_port = faults.free_port(), faults.free_port()
    path, sock = workdir / "reload.toml", workdir / "admin.sock"
    write_config(path, sock, 0, port, extra_port, bs)
    proc = l4lb(args=["-c", str(path)], ready=[f"tcp://127.0.0.1:{port}"])
    assert wait_until(lambda: proc.stderr().count(": unknown -> up") >= 3, 15), proc.describe()
    target = f"127.0.0.1:{port}"
    faults.run_client(workdir, target, ["--count", "50", "--concurrency", "10"])
    baseline_fds, baseline_rss = faults.fd_count(proc.pid), faults.rss_kib(proc.pid)

    reloads = size(10, 50)
    invalid_at = reloads // 2
    spacing = 0.3
    span = reloads * (spacing + 0.2) + 3
    streams = size(100, 500)
    rate = size(200, 1000)
    long = Client(workdir, target, ["--bytes", str(512 * int(span / 0.3 + 5)), "--chunk", "512",
                                    "--gap", "300ms", "--count", str(streams),
                                    "--concurrency", str(streams), "--stall", "10s"],
                  name="long")
    new = Client(workdir, target, ["--rate", str(rate), "--count", str(int(rate * span)),
                                   "--duration", f"{span}s", "--bytes", "1024"], name="new")
    applied = failed_reloads = 0
    for n in range(1, reloads + 1):
        time.sleep(spacing)
        write_config(path, sock, n, port, extra_port, bs, invalid=(n == invalid_at))
        proc.send_signal(signal.SIGHUP)
        if n == invalid_at:
            failed_reloads += 1
            assert wait_until(lambda: proc.stderr().count(FAILED_LINE) >= failed_reloads, 10), \
                proc.describe()
        else:
            applied += 1
            assert wait_until(lambda: proc.stderr().count(RELOAD_LINE + str(path)) >= applied,
                              10), proc.describe()
    long_r, new_r = long.result(), new.result()
    server_figures = [b.summary() for b in bs]
    fds_back = faults.settle(lambda: faults.fd_count(proc.pid) <= baseline_fds, 20)
    figures = {"reloads": reloads, "invalid": 1, "streams": streams,
               "streams_failed": long_r["failed"], "new_per_s": rate,
               "new_attempted": new_r["attempted"], "new_failed": new_r["failed"],
               "corrupt": long_r["corrupt"] + new_r["corrupt"],
               "backend_corrupt": sum(s["corrupt"] for s in server_figures),
               "fds_over_baseline": faults.fd_count(proc.pid) - baseline_fds,
               "rss_kib_before_after": [baseline_rss, faults.rss_kib(proc.pid)]}
    record(figures)

    assert proc.alive(), proc.describe()
    assert long_r["attempted"] == streams and long_r["failed"] == 0, brief(long_r)
    assert new_r["failed"] == 0, brief(new_r)
    assert figures["corrupt"] == 0 and figures["backend_corrupt"] == 0, figures
    assert fds_back, figures
