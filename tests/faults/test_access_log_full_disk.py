"""Scenario 13: the access log on a full disk (a small tmpfs filled up). l4lb keeps serving
(0 failed), counts every line it could not write (l4lb_access_log_dropped_total), and writes
again once there is room: lines written + lines counted lost = connections served."""

from __future__ import annotations

import json
import re
import subprocess

from admin_api import admin_get
from net import wait_until

import faults
import proxies
from faults import brief, size

SCENARIO = "13 access log on a full disk"


def complete_lines(path) -> int:
    n = 0
    for line in path.read_text(errors="replace").splitlines():
        try:
            json.loads(line)
            n += 1
        except ValueError:
            pass
    return n


def dropped(sock) -> int:
    m = re.search(r"^l4lb_access_log_dropped_total (\d+)", admin_get(sock, "/metrics"), re.M)
    return int(m.group(1)) if m else -1


def test_full_disk_loses_only_counted_lines_and_logging_resumes(l4lb, workdir, backends, record):
    logs = workdir / "logs"
    logs.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(logs)], check=True,
                   timeout=20)
    try:
        run(l4lb, workdir, backends, record, logs)
    finally:
        subprocess.run(["umount", "-l", str(logs)], timeout=20)


def run(l4lb, workdir, backends, record, logs):
    bs = backends(2)
    port = faults.free_port()
    sock = workdir / "admin.sock"
    log = logs / "access.log"
    config = proxies.l4lb_config(port, bs, global_={"access_log": str(log)})
    proc = l4lb(config + f'\n[admin]\nlisten = ["unix://{sock}"]\n',
                ready=[f"tcp://127.0.0.1:{port}"])
    assert wait_until(lambda: proc.stderr().count(": unknown -> up") >= 2, 15), proc.describe()
    target = f"127.0.0.1:{port}"
    # Fill what is left of the file system.
    subprocess.run(["dd", "if=/dev/zero", f"of={logs}/filler", "bs=1k"], capture_output=True,
                   timeout=20)
    full = size(500, 5000)
    r1 = faults.run_client(workdir, target, ["--count", str(full), "--concurrency", "50",
                                             "--bytes", "1024"])
    # Every connection's line is written or counted lost once it has ended.
    assert wait_until(lambda: complete_lines(log) + dropped(sock) >= full, 10)
    lost_full = dropped(sock)
    (logs / "filler").unlink()
    more = size(100, 1000)
    r2 = faults.run_client(workdir, target, ["--count", str(more), "--concurrency", "20",
                                             "--bytes", "1024"])
    assert wait_until(lambda: complete_lines(log) + dropped(sock) >= full + more, 10)
    written, lost = complete_lines(log), dropped(sock)
    figures = {"served_while_full": r1["attempted"], "failed_while_full": r1["failed"],
               "lines_lost_counted": lost_full, "served_after_room": r2["attempted"],
               "failed_after_room": r2["failed"], "lines_written": written,
               "lines_lost_total": lost, "written_plus_lost": written + lost,
               "connections": full + more}
    record(figures)
    assert r1["failed"] == 0, brief(r1)
    assert r2["failed"] == 0, brief(r2)
    assert lost_full > 0, figures  # the disk was full: lines were lost, and counted
    assert written + lost == full + more, figures
    assert dropped(sock) == lost_full, figures  # nothing lost once there was room
    assert proc.alive()
