"""Helpers for the health-check tests: impostors, real servers started on free ports, and
waiting for l4lb's state-change log lines."""

from __future__ import annotations

import re
import socket
import threading
import time
from pathlib import Path

from backends import Server
from procs import Process, wait_tcp_listening

# What a client of the health tests sends first, so an impostor can tell clients from checks.
CLIENT_MARK = b"l4lb-test-client"


class Impostor(Server):
    """Accepts TCP like the real thing, then answers `reply` (maybe nothing) and closes.
    Counts the connections whose first bytes carry CLIENT_MARK: real clients, not checks."""

    def __init__(self, url: str, reply: bytes = b"", greet: bytes = b""):
        self.client_hits = 0
        self.reply = reply
        self.greet = greet
        super().__init__(url, self._handle, "impostor")

    def _handle(self, conn: socket.socket, server: Server) -> None:
        if self.greet:
            conn.sendall(self.greet)
        conn.settimeout(1.0)
        data = b""
        try:
            data = conn.recv(4096)
        except (socket.timeout, OSError):
            pass
        if CLIENT_MARK in data:
            with self._lock:
                self.client_hits += 1
        if self.reply:
            try:
                conn.sendall(self.reply)
            except OSError:
                pass


def wait_state(proc, backend: str, state: str, timeout: float, after: int = 0) -> float | None:
    """Seconds until l4lb logs `backend` entering `state` (in stderr past offset `after`), or
    None."""
    rx = re.compile(rf"backend {re.escape(backend)}: \w+ -> {state} ")
    start = time.monotonic()
    deadline = start + timeout
    while time.monotonic() < deadline:
        if rx.search(proc.stderr()[after:]):
            return time.monotonic() - start
        time.sleep(0.02)
    return None


def log_offset(proc) -> int:
    return len(proc.stderr())


class SequentialClients:
    """A thread opening one connection after another through l4lb, each running `exchange`
    (which raises on failure); counts successes and failures until stop()."""

    def __init__(self, exchange, pause: float = 0.01):
        self.exchange = exchange
        self.pause = pause
        self.ok = 0
        self.failures: list[str] = []
        # The test names what is happening ("stopping", ...); failures are also kept by phase.
        self.phase = "steady"
        self.failures_by_phase: dict[str, list[str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        deadline = time.monotonic() + 120  # bounded whatever the test does
        while not self._stop.is_set() and time.monotonic() < deadline:
            try:
                self.exchange()
                self.ok += 1
            except (OSError, AssertionError) as e:
                self.failures.append(repr(e))
                self.failures_by_phase.setdefault(self.phase, []).append(repr(e))
            time.sleep(self.pause)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


def start_nginx(workdir: Path, port: int, body: str = "nginx") -> Process:
    d = workdir / f"nginx-{port}"
    (d / "tmp").mkdir(parents=True, exist_ok=True)
    conf = d / "nginx.conf"
    conf.write_text(f"""
worker_processes 1;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {d}/tmp/body;
  proxy_temp_path {d}/tmp/proxy;
  fastcgi_temp_path {d}/tmp/fastcgi;
  uwsgi_temp_path {d}/tmp/uwsgi;
  scgi_temp_path {d}/tmp/scgi;
  server {{
    listen 127.0.0.1:{port};
    location / {{ return 200 "{body}\\n"; }}
  }}
}}
""")
    p = Process(["nginx", "-e", str(d / "error.log"), "-p", str(d), "-c", str(conf)], workdir,
                f"nginx-{port}")
    wait_tcp_listening(port)
    return p


def start_memcached(workdir: Path, port: int) -> Process:
    p = Process(["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "16",
                 "-u", "nobody"], workdir, f"memcached-{port}")
    wait_tcp_listening(port)
    return p
