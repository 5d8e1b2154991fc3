"""Helpers for the health-check tests: impostors, real servers started on free ports, and
waiting for l4lb's state-change log lines."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

from backends import Server
from net import connect, free_port, recv_exact, tcp_url, wait_until
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

    def keep_on_until(self, count: int, timeout: float = 60) -> None:
        """Goes on until `count` sessions have succeeded (bounded): how many fit into the test's
        phases depends on the machine's speed, which a test must not assume."""
        deadline = time.monotonic() + timeout
        while self.ok < count and self._thread.is_alive() and time.monotonic() < deadline:
            time.sleep(0.05)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(30)


def run_nginx(workdir: Path, port: int, name: str, http_body: str) -> Process:
    """nginx in the foreground with its own prefix, temp paths and log under workdir/`name`,
    serving `http_body` (what goes inside `http { }`) on 127.0.0.1:`port`."""
    d = workdir / name
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
{http_body}
}}
""")
    p = Process(["nginx", "-e", str(d / "error.log"), "-p", str(d), "-c", str(conf)], workdir,
                name)
    wait_tcp_listening(port)
    return p


def start_nginx(workdir: Path, port: int, body: str = "nginx") -> Process:
    return run_nginx(workdir, port, f"nginx-{port}", f"""  server {{
    listen 127.0.0.1:{port};
    location / {{ return 200 "{body}\\n"; }}
  }}""")


def start_memcached(workdir: Path, port: int) -> Process:
    p = Process(["memcached", "-l", "127.0.0.1", "-p", str(port), "-U", "0", "-m", "16",
                 "-u", "nobody"], workdir, f"memcached-{port}")
    wait_tcp_listening(port)
    return p


# ---------------------------------------------------------------------------------------------
# MariaDB: throwaway servers, and a small well-behaved client

MARIADB_TOOLS = ("mariadbd", "mariadb-install-db", "mariadb")
# mariadbd refuses to run as root.
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] \
    if os.geteuid() == 0 else []


def mariadb_available() -> bool:
    return all(shutil.which(t) for t in MARIADB_TOOLS)


class Mariadb:
    """One throwaway MariaDB server: its own datadir, port and Unix socket under `directory`.
    `args` are extra mariadbd options. Setup and the tests' SQL go over the Unix socket, so the
    server's TCP counters (Aborted_connects, the host cache) see only what l4lb and the test's
    clients do."""

    def __init__(self, directory: Path, port: int, bind: str = "127.0.0.1",
                 args: list[str] | None = None, wrap=None):
        self.wrap = wrap or (lambda argv: argv)  # e.g. VethPeer.wrap: run in a namespace
        self.dir = directory
        self.port = port
        self.bind = bind
        self.url = tcp_url(port, bind)
        self.args = args or []
        self.data = directory / "data"
        self.socket = str(directory / "mysqld.sock")
        # A tmpdir of its own: a mariadbd starting up deletes every #sql* file in its tmpdir,
        # which in a shared /tmp are the temporary tables of servers already running (seen
        # crashing a concurrent mariadb-install-db: 4 of 12 with four at once, none after).
        self.tmp = directory / "tmp"
        self.process: Process | None = None
        self.tmp.mkdir(parents=True, exist_ok=True)
        if AS_NOBODY:
            shutil.chown(directory, "nobody", "nogroup")
            shutil.chown(self.tmp, "nobody", "nogroup")

    def install(self, template: "Mariadb | None" = None) -> None:
        """A fresh datadir, or a copy of `template`'s (installed, never started: much quicker)."""
        if template is not None:
            r = subprocess.run(["cp", "-a", str(template.data), str(self.data)],
                               capture_output=True, text=True, timeout=60)
        else:
            r = subprocess.run(AS_NOBODY + ["mariadb-install-db", "--no-defaults",
                                            f"--datadir={self.data}",
                                            "--auth-root-authentication-method=normal",
                                            "--skip-test-db", f"--tmpdir={self.tmp}"],
                               capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr

    def start(self) -> Process:
        assert self.process is None or self.process.proc.poll() is not None
        self.process = Process(self.wrap(AS_NOBODY + ["mariadbd", "--no-defaults",
                                            f"--datadir={self.data}", f"--port={self.port}",
                                            f"--bind-address={self.bind}",
                                            f"--socket={self.socket}",
                                            f"--pid-file={self.dir}/mysqld.pid",
                                            f"--tmpdir={self.tmp}",
                                            "--skip-log-bin", "--innodb-buffer-pool-size=16M",
                                            *self.args]), self.dir, f"mariadbd-{self.port}")

        def ready() -> bool:
            if self.process.proc.poll() is not None:
                return True
            r = subprocess.run(["mariadb", "--no-defaults", "-S", self.socket, "-u", "root",
                                "-e", "SELECT 1"], capture_output=True, timeout=30)
            return r.returncode == 0

        if not wait_until(ready, 60, 0.2) or self.process.proc.poll() is not None:
            self.process.stop()
            raise AssertionError("mariadbd did not start:\n" + self.process.log())
        return self.process

    def stop(self) -> None:
        if self.process is not None:
            self.process.stop()

    def sql(self, statement: str) -> str:
        r = subprocess.run(["mariadb", "--no-defaults", "-S", self.socket, "-u", "root", "-N",
                            "-B", "-e", statement], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout.strip()

    def status(self, name: str) -> int:
        return int(self.sql(f"SHOW GLOBAL STATUS LIKE '{name}'").split()[-1])


class MariadbServers:
    """Factory for throwaway MariaDB servers under one directory; stop_all() at teardown.
    The first server's datadir is installed, the others copy it."""

    def __init__(self):
        self.root = Path(tempfile.mkdtemp(prefix="l4lb-my-", dir="/tmp"))
        if AS_NOBODY:
            shutil.chown(self.root, "nobody", "nogroup")
        self.servers: list[Mariadb] = []

    def start(self, bind: str = "127.0.0.1", args: list[str] | None = None,
              peer=None) -> Mariadb:
        """`peer`: a VethPeer to run the server in, on its address (any port is free there)."""
        port = 3306 if peer is not None else free_port(bind)
        db = Mariadb(self.root / f"db{len(self.servers)}", port, bind, args,
                     peer.wrap if peer is not None else None)
        db.install(self.servers[0] if self.servers else None)
        self.servers.append(db)
        db.start()
        return db

    def stop_all(self) -> None:
        for db in self.servers:
            db.stop()
        shutil.rmtree(self.root, ignore_errors=True)


def _mysql_packet(seq: int, payload: bytes) -> bytes:
    return len(payload).to_bytes(3, "little") + bytes([seq & 0xff]) + payload


def _mysql_read(s: socket.socket) -> tuple[int, bytes]:
    header = recv_exact(s, 4)
    if len(header) < 4:
        raise AssertionError(f"connection closed before a packet ({header!r})")
    length = int.from_bytes(header[:3], "little")
    payload = recv_exact(s, length)
    if len(payload) < length:
        raise AssertionError(f"connection closed after {len(payload)} of {length} bytes")
    return header[3], payload


def _mysql_error(payload: bytes) -> str:
    code = int.from_bytes(payload[1:3], "little")
    message = payload[3:]
    if message[:1] == b"#":
        message = message[6:]
    return f"{code} {message.decode(errors='replace')}"


def mysql_query(url: str, user: str, password: str, query: str,
                progress: list[str] | None = None) -> str:
    """Logs in through `url` (mysql_native_password), runs `query` and returns the first column
    of its first row, then quits with COM_QUIT: a client that leaves no aborted connection.
    Raises AssertionError on anything unexpected."""
    progress = progress if progress is not None else []
    with connect(url) as s:
        _, greeting = _mysql_read(s)
        assert greeting[:1] == b"\x0a", f"not a greeting: {greeting[:40]!r}"
        progress.append("greeting")
        at = greeting.index(b"\0", 1) + 1
        nonce = greeting[at + 4:at + 12] + greeting[at + 31:at + 43]
        proof = b""
        if password:
            stage1 = hashlib.sha1(password.encode()).digest()
            mix = hashlib.sha1(nonce + hashlib.sha1(stage1).digest()).digest()
            proof = bytes(a ^ b for a, b in zip(stage1, mix))
        flags = 0x1 | 0x200 | 0x8000 | 0x80000
        login = (flags.to_bytes(4, "little") + (1 << 24).to_bytes(4, "little") + b"\x21"
                 + bytes(23) + user.encode() + b"\0" + bytes([len(proof)]) + proof
                 + b"mysql_native_password\0")
        s.sendall(_mysql_packet(1, login))
        _, reply = _mysql_read(s)
        if reply[:1] == b"\xff":
            raise AssertionError(f"login refused: {_mysql_error(reply)}")
        assert reply[:1] == b"\x00", f"unexpected login reply {reply!r}"
        progress.append("login")
        s.sendall(_mysql_packet(0, b"\x03" + query.encode()))
        _, first = _mysql_read(s)
        assert first[:1] not in (b"\xff", b"\x00"), f"query failed: {first!r}"
        for _ in range(first[0]):  # column definitions
            _mysql_read(s)
        _, eof = _mysql_read(s)
        assert eof[:1] == b"\xfe", eof
        _, row = _mysql_read(s)
        assert row[:1] not in (b"\xfe", b"\xff"), f"no row: {row!r}"
        value = row[1:1 + row[0]].decode()
        _, end = _mysql_read(s)
        assert end[:1] == b"\xfe", end
        s.sendall(_mysql_packet(0, b"\x01"))  # COM_QUIT
        return value
