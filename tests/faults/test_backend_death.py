"""Scenario 4: a backend killed mid-stream (kill -9) and one whose connections are reset
(ss -K). The clients on it see the end promptly and of the matching kind (FIN or RST, never a
stall); every other client and every new connection: 0 failed; no CLOSE_WAIT left in the proxy
and its descriptors back to baseline."""

from __future__ import annotations

import signal
import subprocess
import time

import pytest

import faults
import proxies
from faults import Client, brief, size

SCENARIO = "4 backend killed / reset mid-stream"

CHUNK = 512
BURSTS = 30  # one every 300 ms: streams of ~9 s, long enough to span the fault


def established_to(port: int) -> int:
    """Proxy-side connections to backend `port` (their destination), not the backend's ends."""
    out = subprocess.run(["ss", "-Htan", "state", "established", f"( dport = :{port} )"],
                         capture_output=True, text=True, timeout=20)
    return len(out.stdout.splitlines())


def run_fault(subject, fault, l4lb, workdir, backends, record):
    if not proxies.available(subject):
        pytest.skip(f"{subject} is not installed")
    b1, b2, b3 = backends(3)
    proc, port = proxies.start(subject, l4lb, workdir, [b1, b2, b3])
    pid = faults.pid_of(proc)
    target = f"127.0.0.1:{port}"
    faults.run_client(workdir, target, ["--count", "30", "--concurrency", "10"])  # warm-up
    baseline_fds = faults.fd_count(pid)

    streams = size(150, 500)
    long = Client(workdir, target, ["--mode", "echo", "--bytes", str(CHUNK * BURSTS), "--chunk",
                                    str(CHUNK), "--gap", "300ms", "--count", str(streams),
                                    "--concurrency", str(streams), "--stall", "5s"], name="long")
    assert faults.settle(lambda: established_to(b1.port) + established_to(b2.port)
                         + established_to(b3.port) >= streams, 20)
    time.sleep(0.5)
    affected = established_to(b2.port)
    fault_at = time.monotonic()
    if fault == "kill-9":
        b2.kill(signal.SIGKILL)
    else:
        subprocess.run(["ss", "-K", "state", "established", f"( dport = :{b2.port} )"],
                       capture_output=True, timeout=20, check=True)
    new = Client(workdir, target, ["--rate", str(size(200, 1000)), "--count", str(size(600, 5000)),
                                   "--duration", "5s", "--bytes", "2048"], name="new")
    long_result = long.result()
    new_result = new.result()
    failed = [r for r in long.records() if r["failure"] != "none"]
    end_after_ms = max((r["ended_ms"] - fault_at * 1000 for r in failed), default=0)
    kinds = sorted({r["end"] for r in failed})

    survivors = [b1.summary(), b3.summary()] + ([b2.summary()] if fault == "ss-K" else [])
    close_wait = faults.settle(lambda: faults.process_sockets(pid, ("CLOSE-WAIT",)) == 0, 15)
    fds_back = faults.settle(lambda: faults.fd_count(pid) <= baseline_fds, 15)
    figures = {"fault": fault, "streams": streams, "affected": affected,
               "streams_failed": long_result["failed"], "end_kinds": kinds,
               "last_end_after_fault_ms": int(end_after_ms),
               "new_attempted": new_result["attempted"], "new_failed": new_result["failed"],
               "corrupt": long_result["corrupt"] + new_result["corrupt"],
               "close_wait_left": faults.process_sockets(pid, ("CLOSE-WAIT",)),
               "fds_over_baseline": faults.fd_count(pid) - baseline_fds}
    record(figures, subject)

    assert affected > 0
    # Exactly the streams on the faulted backend end, with a FIN or an RST (not a stall).
    assert long_result["failed"] == affected, brief(long_result)
    assert long_result["corrupt"] == 0, brief(long_result)
    assert set(kinds) <= {"fin", "rst"}, brief(long_result)
    expected_kind = "rst" if fault == "ss-K" else None
    if expected_kind and subject == "l4lb":
        assert kinds == [expected_kind], brief(long_result)
    assert new_result["failed"] == 0, brief(new_result)
    for s in survivors:
        assert s["corrupt"] == 0, s
    assert close_wait, f"CLOSE_WAIT sockets left: {figures}"
    assert fds_back, f"descriptors not back to baseline: {figures}"


SUBJECTS = proxies.SUBJECTS if faults.FULL else ["l4lb"]


@pytest.mark.parametrize("subject", SUBJECTS)
def test_backend_killed_mid_stream_ends_only_its_streams(subject, l4lb, workdir, backends,
                                                         record):
    run_fault(subject, "kill-9", l4lb, workdir, backends, record)


@pytest.mark.parametrize("subject", SUBJECTS)
def test_backend_connections_reset_by_ss_k_end_only_their_streams(subject, l4lb, workdir,
                                                                   backends, record):
    run_fault(subject, "ss-K", l4lb, workdir, backends, record)
