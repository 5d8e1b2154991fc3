"""The fault suite's helpers: l4load backends and clients, process figures (descriptors, RSS,
sockets by state), the tier's sizes, and the rows of the results table.

Every process started here is bounded in time (l4load's own --duration) and dies with the test
(PR_SET_PDEATHSIG through procs.child_command)."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

from net import free_port, wait_until
from procs import REPO, child_command

L4LOAD_BIN = os.path.abspath(os.environ.get(
    "L4LOAD_BIN", str(Path(os.environ.get("L4LB_BIN", REPO / "build" / "l4lb")).parent / "l4load")))
FULL = os.environ.get("L4LB_FAULTS_TIER", "quick") == "full"
RESULTS = os.environ.get("L4LB_FAULTS_RESULTS", "")
NICE = ["nice", "-n", "5"]
# l4load holds thousands of sockets: its soft limit up to the 20,000 this machine allows.
NOFILE = ["prlimit", "--nofile=20000:20000", "--"]


def l4load_available() -> bool:
    return os.path.isfile(L4LOAD_BIN) and os.access(L4LOAD_BIN, os.X_OK)


def size(quick, full):
    """The quick tier's figure, or the full tier's (the issue's)."""
    return full if FULL else quick


def record_row(scenario: str, subject: str, figures: dict) -> None:
    if not RESULTS:
        return
    with open(RESULTS, "a") as f:
        f.write(json.dumps({"scenario": scenario, "subject": subject,
                            "tier": "full" if FULL else "quick", "figures": figures}) + "\n")


class Backend:
    """One `l4load server` on 127.0.0.1:PORT (TCP, and UDP echo on the same port)."""

    def __init__(self, workdir: Path, name: str, wrap: list[str] | None = None,
                 host: str = "127.0.0.1", duration: str = "900s", port: int | None = None):
        self.name = name
        self.host = host
        self.summary_path = workdir / f"{name}.summary.json"
        self.log_path = workdir / f"{name}.log"
        # A port free a moment ago can be taken before the server binds it (other test runs on
        # the machine walk the same range): then another one, a few times.
        for _ in range(5):
            self.port = port or (free_port() if host == "127.0.0.1" else 9000)
            argv = [L4LOAD_BIN, "server", "--listen", f"{host}:{self.port}", "--udp",
                    f"{host}:{self.port}", "--id", name, "--summary", str(self.summary_path),
                    "--duration", duration]
            with open(self.log_path, "wb") as log:
                self.proc = subprocess.Popen(child_command((wrap or []) + NOFILE + NICE + argv),
                                             stdin=subprocess.DEVNULL, stdout=log,
                                             stderr=subprocess.STDOUT)
            assert wait_until(lambda: "ready" in self.log_path.read_text(errors="replace")
                              or self.proc.poll() is not None, 10), self.log_path.read_text()
            if self.proc.poll() is None:
                return
            if port is not None or "in use" not in self.log_path.read_text(errors="replace"):
                break
        raise AssertionError(self.log_path.read_text())

    @property
    def url(self) -> str:
        return f"tcp://{self.host}:{self.port}"

    @property
    def address(self) -> str:
        return f"{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        """The l4load process itself (under nice and setpriv, which exec it)."""
        return self.proc.pid

    def summary(self) -> dict:
        """The server's figures now (SIGUSR1 makes it write them)."""
        before = self.summary_path.stat().st_mtime_ns if self.summary_path.exists() else 0
        self.proc.send_signal(signal.SIGUSR1)
        assert wait_until(lambda: self.summary_path.exists()
                          and self.summary_path.stat().st_mtime_ns != before, 10)
        return json.loads(self.summary_path.read_text())

    def kill(self, sig: int = signal.SIGKILL) -> None:
        self.proc.send_signal(sig)

    def stop(self) -> dict | None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(15)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
                return None
            return json.loads(self.summary_path.read_text()) if self.summary_path.exists() \
                else None
        return None


class Client:
    """One `l4load client` (or udp-client) run in the background; result() waits for its JSON."""

    def __init__(self, workdir: Path, target: str, args: list[str], udp: bool = False,
                 wrap: list[str] | None = None, name: str = "client"):
        n = len(list(workdir.glob(f"{name}-*.json")))
        self.summary_path = workdir / f"{name}-{n}.json"
        self.records_path = workdir / f"{name}-{n}.records"
        self.log_path = workdir / f"{name}-{n}.log"
        argv = [L4LOAD_BIN, "udp-client" if udp else "client", "--target", target,
                "--summary", str(self.summary_path)] + args
        if not udp:
            argv += ["--records", str(self.records_path)]
        self.argv = argv
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(child_command((wrap or []) + NOFILE + NICE + argv),
                                         stdin=subprocess.DEVNULL, stdout=log,
                                         stderr=subprocess.STDOUT)

    def result(self, timeout: float = 300) -> dict:
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)
            raise AssertionError(f"l4load client still running after {timeout}s: {self.argv}")
        assert self.proc.returncode == 0, self.log_path.read_text()
        return json.loads(self.summary_path.read_text())

    def records(self) -> list[dict]:
        return [json.loads(line) for line in self.records_path.read_text().splitlines()]


def run_client(workdir: Path, target: str, args: list[str], **kwargs) -> dict:
    return Client(workdir, target, args, **kwargs).result()


def brief(summary: dict) -> str:
    """The figures of a summary worth printing when an assert fails."""
    keys = ("attempted", "ok", "failed", "corrupt", "ends", "failures", "errnos",
            "failure_samples")
    return json.dumps({k: summary.get(k) for k in keys}, indent=1)[:3000]


# ---------------------------------------------------------------------------------------------
# Figures of a process


def process_tree(pid: int) -> list[int]:
    """`pid` and its descendants (nginx's workers under its master)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            for task in os.listdir(f"/proc/{p}/task"):
                todo += [int(c) for c in
                         Path(f"/proc/{p}/task/{task}/children").read_text().split()]
        except OSError:
            pass
    return out


def fd_count(pid: int) -> int:
    """Descriptors of `pid` and its children other than pipes: l4lb keeps a pool of splice
    pipes per worker that grows with the first bulk transfers (a cache, not a leak)."""
    n = 0
    for p in process_tree(pid):
        try:
            fds = os.listdir(f"/proc/{p}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if not os.readlink(f"/proc/{p}/fd/{fd}").startswith("pipe:"):
                    n += 1
            except OSError:
                pass
    return n


def rss_kib(pid: int) -> int:
    m = re.search(r"^VmRSS:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.M)
    return int(m.group(1)) if m else 0


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def sockets_in_state(state: str, port: int, wrap: list[str] | None = None) -> int:
    """TCP sockets in `state` ("close-wait", "established", ...) with `port` at either end."""
    out = subprocess.run((wrap or []) + ["ss", "-Htan", "state", state,
                                         f"( sport = :{port} or dport = :{port} )"],
                         capture_output=True, text=True, timeout=20)
    return len([ln for ln in out.stdout.splitlines() if ln.strip()])


def process_sockets(pid: int, states: tuple[str, ...]) -> int:
    """TCP sockets of process `pid` (or its children) in any of `states` (ss -p)."""
    out = subprocess.run(["ss", "-Htanp"], capture_output=True, text=True, timeout=20)
    want = {s.upper().replace("-", "_") for s in states}
    pids = [f"pid={p}," for p in process_tree(pid)]
    n = 0
    for line in out.stdout.splitlines():
        parts = line.split()
        if parts and parts[0].upper().replace("-", "_") in want and any(p in line for p in pids):
            n += 1
    return n


def settle(predicate, timeout: float) -> bool:
    """wait_until with a bound, for figures that return to baseline after a run."""
    return wait_until(predicate, timeout, interval=0.2)


def now() -> float:
    return time.monotonic()


def pid_of(proc) -> int:
    """The pid of an l4lb fixture process or of a procs.Process (haproxy, nginx's master)."""
    return proc.pid if hasattr(proc, "pid") else proc.proc.pid
