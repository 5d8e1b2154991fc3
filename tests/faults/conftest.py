"""Fixtures for the fault suite: the integration tests' own (l4lb, workdir, processes), plus
l4load backends and clients, and the results each scenario records for the table.

Run:  /usr/bin/python3 -m pytest -q tests/faults                 (quick tier)
      scripts/faults.sh --full                                   (full tier, with the table)
"""

from __future__ import annotations

import importlib.util
import os
import sys
from pathlib import Path

import pytest

INTEGRATION = Path(__file__).resolve().parents[1] / "integration"
sys.path.insert(0, str(INTEGRATION))

# The integration suite's conftest under another module name (two modules named "conftest"
# would clash), so its fixtures are the same objects here.
_spec = importlib.util.spec_from_file_location("integration_conftest", INTEGRATION / "conftest.py")
_integration = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_integration)
_watchdog = _integration._watchdog
l4lb_bin = _integration.l4lb_bin
workdir = _integration.workdir
processes = _integration.processes
l4lb = _integration.l4lb

import faults  # noqa: E402  (after the path above)

# A scenario of the full tier runs longer than an integration test may.
_integration.TEST_WATCHDOG_SECONDS = 600 if faults.FULL else 240


@pytest.fixture(scope="session", autouse=True)
def l4load_bin() -> str:
    if not faults.l4load_available():
        pytest.fail(f"l4load not found at {faults.L4LOAD_BIN}: build it (cmake --build build)",
                    pytrace=False)
    return faults.L4LOAD_BIN


@pytest.fixture
def backends(workdir):
    """Factory: backends(n) -> n l4load servers on 127.0.0.1, stopped at teardown."""
    started: list[faults.Backend] = []

    def make(n: int, **kwargs) -> list[faults.Backend]:
        out = [faults.Backend(workdir, f"b{len(started) + i + 1}", **kwargs) for i in range(n)]
        started.extend(out)
        return out

    yield make
    for b in started:
        b.stop()


@pytest.fixture
def record(request):
    """record(figures: dict, subject="l4lb"): one row of the scenario table."""
    def add(figures: dict, subject: str = "l4lb", scenario: str | None = None) -> None:
        faults.record_row(scenario or request.node.module.SCENARIO, subject, figures)
    return add


@pytest.fixture
def topo():
    """The namespace hosts (topology.py): client, lb, b1..b3; removed at teardown."""
    import topology
    if os.geteuid() != 0:
        pytest.skip("network namespaces need root")
    with topology.Topology() as t:
        yield t
