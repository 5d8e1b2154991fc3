"""Scenario 10: the half-close matrix. Each case moves a seeded stream through the proxy and
checks every byte at both ends; then no half-closed socket is left in the proxy and its
descriptors are back to baseline.

  client-fin-first   sink: the client sends, FINs; the backend FINs after reading it all
  backend-fin-first  source: the backend sends, FINs; the client FINs after reading it all
  both               duplex: both send at once, each FINs when its own stream is out
  fin-data-flowing   echo of 256 KiB: the client FINs while most of the echo still flows back
"""

from __future__ import annotations

import pytest

import faults
import proxies
from faults import brief, size

SCENARIO = "10 half-close matrix"

CASES = {"client-fin-first": ("sink", 65536), "backend-fin-first": ("source", 65536),
         "both": ("duplex", 65536), "fin-data-flowing": ("echo", 262144)}
HALF_CLOSED = ("CLOSE-WAIT", "FIN-WAIT-1", "FIN-WAIT-2", "LAST-ACK", "CLOSING")


@pytest.mark.parametrize("subject", proxies.SUBJECTS if faults.FULL else ["l4lb"])
def test_half_close_matrix_delivers_every_byte_and_leaves_nothing_half_closed(
        subject, l4lb, workdir, backends, record):
    if not proxies.available(subject):
        pytest.skip(f"{subject} is not installed")
    bs = backends(2)
    proc, port = proxies.start(subject, l4lb, workdir, bs)
    pid = faults.pid_of(proc)
    target = f"127.0.0.1:{port}"
    faults.run_client(workdir, target, ["--count", "20", "--concurrency", "10"])
    baseline_fds = faults.fd_count(pid)
    count = size(200, 1000)
    figures = {"per_case": count}
    results = {}
    for case, (mode, length) in CASES.items():
        r = faults.run_client(workdir, target, ["--mode", mode, "--bytes", str(length),
                                                "--count", str(count), "--concurrency", "50",
                                                "--duration", "120s"])
        results[case] = r
        figures[case] = f"{r['ok']}/{r['attempted']} ok, {r['corrupt']} corrupt"
    server_figures = [b.summary() for b in bs]
    # Nothing half-closed stays behind in the proxy once the clients are done.
    clean = faults.settle(lambda: faults.process_sockets(pid, HALF_CLOSED) == 0, 15)
    fds_back = faults.settle(lambda: faults.fd_count(pid) <= baseline_fds, 15)
    figures["half_closed_left"] = faults.process_sockets(pid, HALF_CLOSED)
    figures["fds_over_baseline"] = faults.fd_count(pid) - baseline_fds
    figures["backend_failed"] = sum(s["failed"] for s in server_figures)
    record(figures, subject)

    for case, r in results.items():
        assert r["attempted"] == count and r["failed"] == 0, f"{case}: {brief(r)}"
        assert r["corrupt"] == 0, f"{case}: {brief(r)}"
    # The backends saw every connection end cleanly too (every byte checked on their side).
    assert sum(s["attempted"] for s in server_figures) >= 4 * count
    assert figures["backend_failed"] == 0, server_figures
    assert clean, figures
    assert fds_back, figures
