"""Scenario 3: binary upgrades under load (`l4lb run --upgrade-from`), one of them a new binary
whose config is invalid and one killed while it starts: 0 failed new connections, and the
established streams carry on across every upgrade with every byte."""

from __future__ import annotations

import signal
import time

from net import wait_until

import faults
from faults import Client, brief, size
from test_reload_under_load import write_config

SCENARIO = "3 binary upgrade under load"
DONE = r"upgrade from pid \d+ done: serving (\d+) listeners of it and (\d+) connections"


def test_upgrades_under_load_fail_no_connection_and_keep_every_stream(l4lb, workdir, backends,
                                                                     record):
    bs = backends(3)
    port, extra_port = faults.free_port(), faults.free_port()
    path, sock = workdir / "upgrade.toml", workdir / "admin.sock"
    write_config(path, sock, 0, port, extra_port, bs)
    bad = workdir / "bad.toml"
    write_config(bad, sock, 0, port, extra_port, bs, invalid=True)
    proc = l4lb(args=["-c", str(path)], ready=[f"tcp://127.0.0.1:{port}"])
    assert wait_until(lambda: proc.stderr().count(": unknown -> up") >= 3, 15), proc.describe()
    target = f"127.0.0.1:{port}"

    upgrades = size(4, 10)
    events = ["good"] * upgrades
    events[1] = "invalid"
    events[2] = "killed"
    span = upgrades * 4 + 5
    streams, rate = size(100, 500), size(100, 1000)
    long = Client(workdir, target, ["--bytes", str(512 * int(span / 0.3 + 5)), "--chunk", "512",
                                    "--gap", "300ms", "--count", str(streams),
                                    "--concurrency", str(streams), "--stall", "15s"],
                  name="long")
    new = Client(workdir, target, ["--rate", str(rate), "--count", str(int(rate * span)),
                                   "--duration", f"{span}s", "--bytes", "1024"], name="new")
    handed_total = 0
    for event in events:
        time.sleep(1.0)
        if event == "invalid":
            attempt = l4lb(args=["-c", str(bad), "--upgrade-from", f"unix://{sock}"])
            assert attempt.wait(20) == 1, attempt.describe()
            assert proc.alive(), proc.describe()
        elif event == "killed":
            attempt = l4lb(args=["-c", str(path), "--upgrade-from", f"unix://{sock}"])
            attempt.send_signal(signal.SIGKILL)
            assert attempt.wait(10) == -signal.SIGKILL
            assert proc.alive(), proc.describe()
        else:
            successor = l4lb(args=["-c", str(path), "--upgrade-from", f"unix://{sock}"])
            done = successor.wait_log(DONE, 30)
            assert done is not None, successor.describe() + "\n" + proc.describe()
            handed_total += int(done.group(2))
            assert proc.wait(30) == 0, "the old process did not exit\n" + proc.describe()
            proc = successor
    long_r, new_r = long.result(), new.result()
    server_figures = [b.summary() for b in bs]
    figures = {"upgrades": upgrades, "invalid": 1, "killed_in_start": 1, "streams": streams,
               "streams_failed": long_r["failed"], "connections_handed_over": handed_total,
               "new_per_s": rate, "new_attempted": new_r["attempted"],
               "new_failed": new_r["failed"], "corrupt": long_r["corrupt"] + new_r["corrupt"],
               "backend_failed": sum(s["failed"] for s in server_figures)}
    record(figures)

    assert long_r["attempted"] == streams and long_r["failed"] == 0, brief(long_r)
    assert new_r["failed"] == 0, brief(new_r)
    assert figures["corrupt"] == 0, figures
    # Every stream crossed the upgrades on its own backend connection: none ended early there.
    assert figures["backend_failed"] == 0, server_figures
