"""Fixtures for the l4lb black-box tests.

Run:  /usr/bin/python3 -m pytest -q tests/integration
      L4LB_BIN=build/sanitize/l4lb /usr/bin/python3 -m pytest -q tests/integration
"""

from __future__ import annotations

import faulthandler
import os
import shutil
import sys
import tempfile
from pathlib import Path

import pytest

import harness

# A test that runs longer than this is a hang: dump every thread's stack and exit the run
# (child processes die with us through PR_SET_PDEATHSIG).
TEST_WATCHDOG_SECONDS = 150


@pytest.fixture(autouse=True)
def _watchdog():
    faulthandler.dump_traceback_later(TEST_WATCHDOG_SECONDS, exit=True, file=sys.stderr)
    yield
    faulthandler.cancel_dump_traceback_later()


@pytest.fixture(scope="session", autouse=True)
def l4lb_bin() -> str:
    path = harness.L4LB_BIN
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"l4lb binary not found at {path}: build it, or set L4LB_BIN", pytrace=False)
    return path


@pytest.fixture
def workdir():
    """A short directory under /tmp (Unix socket paths must stay under 108 bytes)."""
    d = Path(tempfile.mkdtemp(prefix="l4lb-it-", dir="/tmp"))
    yield d
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture
def servers():
    """Factory for in-process backends; all stopped at teardown."""
    started: list[harness.Server] = []

    def make(url: str, handler=None, name: str = "") -> harness.Server:
        s = harness.Server(url, handler or harness.name_handler(name), name)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


@pytest.fixture
def processes():
    """Registry for helper processes (redis-server, socat); all stopped at teardown."""
    started: list[harness.Process] = []
    yield started
    for p in started:
        p.stop()


@pytest.fixture
def l4lb(l4lb_bin, workdir):
    """Factory: l4lb(config_text, ready=[urls]) or l4lb(args=[...], ready=[urls]);
    `wrapper` is a command that execs l4lb (e.g. ["prlimit", "--nofile=64", "--"]).

    Writes the config into the test's directory, starts `l4lb run -c FILE`, waits until every
    URL in `ready` listens. A config without an [admin] table gets one with a socket in the
    test's directory (the default, /run/l4lb/admin.sock, would be shared by every run). At teardown stops the process (SIGTERM) and fails the test if it
    crashed: killed by a signal we did not send, a sanitizer report, or no exit after SIGTERM."""
    started: list[harness.L4lb] = []
    counter = iter(range(1000))

    def start(config: str | None = None, ready: list[str] | None = None,
              args: list[str] | None = None,
              wrapper: list[str] | None = None) -> harness.L4lb:
        if config is not None:
            n = next(counter)
            if "[admin]" not in config:
                config += f'\n[admin]\nlisten = ["unix://{workdir}/admin-{n}.sock"]\n'
            path = workdir / f"l4lb-{n}.toml"
            path.write_text(config)
            argv = ["run", "-c", str(path)] + (args or [])
        else:
            argv = ["run"] + (args or [])
        proc = harness.L4lb(argv, workdir, l4lb_bin, wrapper)
        started.append(proc)
        if ready:
            proc.wait_ready(ready)
        return proc

    yield start
    problems = []
    for proc in started:
        proc.stop()
        report = proc.crash_report()
        if report:
            problems.append(report)
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)
