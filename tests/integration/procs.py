"""Processes: the l4lb under test, and real servers (redis-server, socat) beside it.

Children get PR_SET_PDEATHSIG through setpriv, so nothing outlives an interrupted run.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

from net import can_connect, tcp_url, wait_until

REPO = Path(__file__).resolve().parents[2]
# A relative L4LB_BIN is taken from the directory pytest runs in (tests start l4lb elsewhere).
L4LB_BIN = os.path.abspath(os.environ.get("L4LB_BIN", str(REPO / "build" / "l4lb")))

READY_TIMEOUT = 10.0  # seconds for l4lb or a backend to start listening
EXIT_TIMEOUT = 20.0  # seconds for l4lb to exit after SIGTERM at teardown

# Sanitizer reports that make a run a failure even when the exit code looks fine.
SANITIZER_MARKERS = (
    "ERROR: AddressSanitizer",
    "ERROR: LeakSanitizer",
    "ERROR: UndefinedBehaviorSanitizer",
    "WARNING: ThreadSanitizer",
    "runtime error:",  # UBSan
)

_PDEATHSIG = ["setpriv", "--pdeathsig", "KILL", "--"] if shutil.which("setpriv") else []


def child_command(argv: list[str]) -> list[str]:
    """argv wrapped so the child is killed if the test process dies (PR_SET_PDEATHSIG)."""
    return _PDEATHSIG + argv

# ---------------------------------------------------------------------------------------------
# The l4lb process


class L4lb:
    """One l4lb process; stderr goes to a file that tests can read while it runs."""

    def __init__(self, args: list[str], workdir: Path, binary: str = L4LB_BIN,
                 wrapper: list[str] | None = None):
        self.args = [binary] + args
        self.workdir = workdir
        self.stderr_path = workdir / f"l4lb-{id(self):x}.stderr"
        self.stdout_path = workdir / f"l4lb-{id(self):x}.stdout"
        self.signals_sent: list[int] = []
        self.killed = False
        self.stopped_at_teardown = False
        with open(self.stderr_path, "wb") as err, open(self.stdout_path, "wb") as out:
            # `wrapper` (e.g. prlimit ... --) must exec the command, keeping the pid.
            self.proc = subprocess.Popen(child_command((wrapper or []) + self.args),
                                         stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                         cwd=workdir)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def stderr(self) -> str:
        return self.stderr_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def describe(self) -> str:
        rc = self.proc.poll()
        tail = "\n".join(self.stderr().splitlines()[-40:])
        return f"l4lb {' '.join(self.args[1:])}\nexit code: {rc}\nstderr (last lines):\n{tail}"

    def wait_log(self, pattern: str, timeout: float = READY_TIMEOUT) -> re.Match | None:
        """First match of regex `pattern` in stderr, waiting up to `timeout`."""
        rx = re.compile(pattern, re.MULTILINE)
        found = None

        def check():
            nonlocal found
            found = rx.search(self.stderr())
            return found is not None

        wait_until(check, timeout)
        return found

    def wait_ready(self, urls: list[str], timeout: float = READY_TIMEOUT) -> None:
        """Waits for a "listening on URL" log line per listener. If a line has not appeared
        after 3 s, falls back to probing with connect() (which the balancer then sees)."""
        deadline = time.monotonic() + timeout
        pending = list(urls)
        started = time.monotonic()
        while pending:
            if not self.alive():
                raise AssertionError("l4lb exited before it was ready\n" + self.describe())
            text = self.stderr()
            lines = [ln for ln in text.splitlines() if "listening" in ln]
            still = []
            for url in pending:
                if any(url in ln for ln in lines):
                    continue
                # Only a stream listener can be probed by connecting; a datagram or queue
                # listener waits for its line (a loaded machine can take longer than 3 s).
                if (time.monotonic() - started > 3.0 and url.startswith(("tcp://", "unix://"))
                        and can_connect(url)):
                    continue
                still.append(url)
            pending = still
            if not pending:
                break
            if time.monotonic() >= deadline:
                raise AssertionError(f"l4lb not listening on {pending} after {timeout}s\n"
                                     + self.describe())
            time.sleep(0.05)

    def send_signal(self, sig: int) -> None:
        self.signals_sent.append(sig)
        self.proc.send_signal(sig)

    def wait(self, timeout: float) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self) -> int:
        """SIGTERM, wait, SIGKILL if it will not go. Returns the exit code."""
        if self.alive():
            self.stopped_at_teardown = True
            self.send_signal(signal.SIGTERM)
            if self.wait(EXIT_TIMEOUT) is None:
                self.killed = True
                self.proc.kill()
                self.proc.wait(10)
        return self.proc.returncode

    def crash_report(self) -> str | None:
        """Why this run counts as a crash, or None. Call after the process has exited."""
        rc = self.proc.returncode
        text = self.stderr()
        for marker in SANITIZER_MARKERS:
            if marker in text:
                return f"sanitizer report ({marker!r})\n" + self.describe_full()
        if self.killed:
            return f"did not exit within {EXIT_TIMEOUT}s of SIGTERM\n" + self.describe()
        if rc is not None and rc < 0 and -rc not in self.signals_sent:
            return f"killed by signal {signal.Signals(-rc).name}\n" + self.describe()
        if self.stopped_at_teardown and rc != 0:
            return f"exit code {rc} after SIGTERM (expected 0)\n" + self.describe()
        return None

    def describe_full(self) -> str:
        return f"l4lb {' '.join(self.args[1:])}\nexit code: {self.proc.returncode}\n" \
               f"stderr:\n{self.stderr()[-20000:]}"


def run_l4lb(args: list[str], timeout: float = 20.0, cwd: Path | None = None):
    """Runs l4lb to completion (check, --version, ...): CompletedProcess with text output."""
    return subprocess.run(child_command([L4LB_BIN] + args), stdin=subprocess.DEVNULL,
                          capture_output=True, text=True, timeout=timeout, cwd=cwd)


# ---------------------------------------------------------------------------------------------
# Real servers run as processes


class Process:
    """A helper process (redis-server, socat) stopped with SIGTERM then SIGKILL."""

    def __init__(self, argv: list[str], workdir: Path, name: str):
        self.name = name
        self.log_path = workdir / f"{name}-{id(self):x}.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(child_command(argv), stdin=subprocess.DEVNULL,
                                         stdout=log, stderr=subprocess.STDOUT, cwd=workdir)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stops with `sig` (SIGTERM; nginx's graceful stop is SIGQUIT), then SIGKILL."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def start_redis(workdir: Path, port: int, unixsocket: str | None = None) -> Process:
    argv = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--daemonize", "no", "--dir", str(workdir)]
    if unixsocket:
        argv += ["--unixsocket", unixsocket, "--unixsocketperm", "700"]
    p = Process(argv, workdir, "redis")

    def pong():
        if p.proc.poll() is not None:
            return True
        r = subprocess.run(["redis-cli", "-h", "127.0.0.1", "-p", str(port), "ping"],
                           capture_output=True, text=True, timeout=5)
        return r.stdout.strip() == "PONG"

    ok = wait_until(pong, READY_TIMEOUT, 0.1)
    if not ok or p.proc.poll() is not None:
        p.stop()
        raise AssertionError("redis-server did not start:\n" + p.log())
    return p


def wait_tcp_listening(port: int, host: str = "127.0.0.1", timeout: float = READY_TIMEOUT):
    url = tcp_url(port, host)
    if not wait_until(lambda: can_connect(url), timeout, 0.05):
        raise AssertionError(f"nothing listening on {url}")


def built_with_ubsan_vptr(binary: str = L4LB_BIN) -> bool:
    """True if `binary` has UBSan's vptr check. That check tests memory with pipe(), so it
    reports a false "invalid vptr" whenever the process is out of file descriptors."""
    needle = b"__ubsan_handle_dynamic_type_cache_miss"
    if not os.path.isfile(binary):
        return False
    with open(binary, "rb") as f:
        tail = b""
        while chunk := f.read(1 << 20):
            if needle in tail + chunk:
                return True
            tail = chunk[-len(needle):]
    return False
