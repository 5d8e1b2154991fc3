"""A smoke run of the packet-path benchmark (bench/packet.py --quick): its namespaces, backends
and the kernel, nftables and l4lb-proxy variants come up, answer through the VIP, are measured
and are all removed again. Not a benchmark: one 1-second cell per variant, no figures checked."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pytest

import harness

TOOLS = ["ip", "wrk", "iperf3", "nginx", "nft", "ethtool", "curl", "bpftool"]


@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
def test_quick_run_measures_every_variant_and_leaves_nothing_behind(tmp_path):
    missing = [t for t in TOOLS if not shutil.which(t)]
    if missing:
        pytest.skip(f"not installed: {' '.join(missing)}")
    out = tmp_path / "packet.json"
    variants = ["V0", "V1", "V2", "V4"]
    r = subprocess.run(
        [sys.executable, str(harness.REPO / "bench" / "packet.py"), "--quick", "--variants",
         ",".join(variants), "--json", str(out)],
        capture_output=True, text=True, timeout=120,
        env={**os.environ, "L4LB_BIN": harness.L4LB_BIN})
    assert r.returncode == 0, r.stdout + r.stderr
    results = json.loads(out.read_text())
    assert results["failed"] == []
    for v in variants:
        rows = [row for row in results["rows"] if row["variant"] == v]
        assert len(rows) == 1, v
        assert rows[0]["requests"] > 0 and rows[0]["errors"] == 0, rows[0]
    assert "V4 l4lb proxy" in r.stdout  # the report was printed
    # Everything it made is gone: no namespace of its own left.
    left = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True).stdout
    assert not [line for line in left.splitlines() if line.startswith("l4pb")], left
