"""Throwaway PostgreSQL clusters for the pgsql check tests: initdb, start and stop on a free
port, psql, a standby made with pg_basebackup, promotion, and a small protocol-level client.

Every cluster has its own directory under /tmp; the server runs as the postgres user (it
refuses root), exec'd directly by setpriv so signals reach the postmaster itself."""

from __future__ import annotations

import os
import shutil
import socket
import struct
import subprocess
import tempfile
from pathlib import Path

from harness import Process, free_port, tcp_url, wait_until

# Debian installs each major version beside the others; the newest will do.
_PG_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                  key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
PG_BIN = _PG_BINS[-1].parent if _PG_BINS else Path("/nonexistent")
HAVE_POSTGRES = (PG_BIN / "initdb").exists()

# The superuser initdb creates; trusted over the Unix socket and 127.0.0.1 (tests administer
# with it, and clients through l4lb log in as it).
SUPERUSER = "l4lb"

_RUN_AS = "postgres" if os.geteuid() == 0 else None


def _as_postgres(argv: list[str]) -> list[str]:
    if _RUN_AS is None:
        return argv
    # --pdeathsig again: the kernel clears it when the user changes, and setpriv sets it after.
    return ["setpriv", f"--reuid={_RUN_AS}", f"--regid={_RUN_AS}", "--clear-groups",
            "--pdeathsig", "KILL", "--"] + argv


def _run(argv: list[str], timeout: float = 60) -> str:
    r = subprocess.run(_as_postgres(argv), capture_output=True, text=True, timeout=timeout,
                       stdin=subprocess.DEVNULL)
    assert r.returncode == 0, f"{' '.join(argv)}\n{r.stdout}{r.stderr}"
    return r.stdout


class PgCluster:
    """One data directory and, while started, one postmaster on `port` (127.0.0.1 and a Unix
    socket in the cluster's directory)."""

    def __init__(self, workdir: Path, name: str = "pg"):
        self.workdir = workdir
        self.name = name
        self.dir = Path(tempfile.mkdtemp(prefix=f"l4lb-{name}-", dir="/tmp"))
        if _RUN_AS:
            shutil.chown(self.dir, _RUN_AS, _RUN_AS)
        self.data = self.dir / "data"
        self.port = free_port()
        self.process: Process | None = None
        self._processes: list[Process] = []

    @property
    def url(self) -> str:
        return tcp_url(self.port)

    def init(self, hba_first_lines: list[str] | None = None) -> "PgCluster":
        """initdb with trust for everyone; `hba_first_lines` go before the trust lines (pg_hba
        takes the first match)."""
        _run([str(PG_BIN / "initdb"), "-D", str(self.data), "-U", SUPERUSER, "--auth=trust",
              "--no-sync", "--no-instructions"], timeout=120)
        if hba_first_lines:
            hba = self.data / "pg_hba.conf"
            hba.write_text("\n".join(hba_first_lines) + "\n" + hba.read_text())
        return self

    def start(self) -> "PgCluster":
        assert self.process is None or self.process.proc.poll() is not None
        self.process = Process(_as_postgres(
            [str(PG_BIN / "postgres"), "-D", str(self.data), "-p", str(self.port),
             "-k", str(self.dir), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off",
             "-c", "log_connections=on", "-c", "log_disconnections=on",
             # DEBUG1 shows a session that ends without Terminate ("unexpected EOF on client
             # connection"), which LOG level hides unless a transaction is open.
             "-c", "log_min_messages=debug1"]),
            self.workdir, f"{self.name}-{self.port}")
        self._processes.append(self.process)
        if not wait_until(lambda: self.process.proc.poll() is not None or self._accepts(), 60,
                          0.1):
            raise AssertionError(f"{self.name} did not start:\n{self.process.log()}")
        if self.process.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited:\n{self.process.log()}")
        return self

    def _accepts(self) -> bool:
        r = subprocess.run([str(PG_BIN / "pg_isready"), "-q", "-h", "127.0.0.1", "-p",
                            str(self.port), "-t", "2"], timeout=10)
        return r.returncode == 0

    def stop(self, mode: str = "fast") -> None:
        """pg_ctl stop: "fast" ends sessions and checkpoints, "immediate" quits at once (the
        next start recovers from WAL)."""
        if self.process is None or self.process.proc.poll() is not None:
            return
        _run([str(PG_BIN / "pg_ctl"), "stop", "-D", str(self.data), "-m", mode, "-w",
              "-t", "60"], timeout=90)
        self.process.proc.wait(30)

    def log(self) -> str:
        """The server's log over every start."""
        return "".join(p.log() for p in self._processes)

    def psql(self, sql: str, user: str = SUPERUSER, database: str = "postgres") -> str:
        """Runs `sql` over the Unix socket (trusted); returns unaligned, tuples-only output."""
        return _run([str(PG_BIN / "psql"), "-X", "-v", "ON_ERROR_STOP=1", "-h", str(self.dir),
                     "-p", str(self.port), "-U", user, "-d", database, "-Atc", sql]).strip()

    def make_standby(self, workdir: Path, name: str) -> "PgCluster":
        """A new cluster streaming from this one: pg_basebackup -R (standby.signal and
        primary_conninfo), not started."""
        standby = PgCluster(workdir, name)
        _run([str(PG_BIN / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.port),
              "-U", SUPERUSER, "-D", str(standby.data), "-R", "-X", "stream", "--no-sync",
              "-c", "fast"], timeout=120)
        return standby

    def follow(self, primary: "PgCluster") -> None:
        """Turns this stopped cluster into a standby of `primary` (which must hold all of this
        one's WAL: a clean stop before the promotion, so no pg_rewind is needed)."""
        (self.data / "standby.signal").write_text("")
        with open(self.data / "postgresql.auto.conf", "a") as f:
            f.write(f"\nprimary_conninfo = 'host=127.0.0.1 port={primary.port} "
                    f"user={SUPERUSER}'\nrecovery_target_timeline = 'latest'\n")

    def promote(self) -> None:
        _run([str(PG_BIN / "pg_ctl"), "promote", "-D", str(self.data), "-w", "-t", "60"],
             timeout=90)

    def remove(self) -> None:
        if self.process:
            self.process.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# A client speaking the protocol, for clients through l4lb (trust logins only)


def _message(sock: socket.socket) -> tuple[bytes, bytes]:
    header = _recv_exact(sock, 5)
    (length,) = struct.unpack("!I", header[1:])
    return header[:1], _recv_exact(sock, length - 4)


def _recv_exact(sock: socket.socket, n: int) -> bytes:
    data = b""
    while len(data) < n:
        chunk = sock.recv(n - len(data))
        if not chunk:
            raise ConnectionError(f"EOF after {len(data)} of {n} bytes")
        data += chunk
    return data


def startup_message(user: str, database: str, application: str = "l4lb-test-client") -> bytes:
    body = struct.pack("!I", 196608)
    for key, value in (("user", user), ("database", database), ("application_name", application)):
        body += key.encode() + b"\0" + value.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def query_one(url: str, sql: str, user: str = SUPERUSER, database: str = "postgres",
              timeout: float = 5.0) -> str:
    """Connects to `url` (tcp://host:port), logs in (trust), runs `sql` and returns the first
    column of the first row. Raises on any error, ErrorResponse included."""
    host, port = url.removeprefix("tcp://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=timeout) as s:
        s.settimeout(timeout)
        s.sendall(startup_message(user, database))
        while True:
            kind, body = _message(s)
            if kind == b"E":
                raise AssertionError(f"login refused: {body!r}")
            if kind == b"R" and body[:4] != b"\0\0\0\0":
                raise AssertionError("asked for a password")
            if kind == b"Z":
                break
        s.sendall(b"Q" + struct.pack("!I", len(sql) + 5) + sql.encode() + b"\0")
        value = None
        while True:
            kind, body = _message(s)
            if kind == b"E":
                raise AssertionError(f"query failed: {body!r}")
            if kind == b"D" and value is None:
                (n,) = struct.unpack("!I", body[2:6])
                value = body[6:6 + n].decode()
            if kind == b"Z":
                break
        s.sendall(b"X\0\0\0\x04")
        assert value is not None, "no row"
        return value

