"""The pgsql check against a real PostgreSQL (a throwaway cluster the test creates on its own
port) and an impostor: with the check no client reaches the impostor, with tcp some do."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import tempfile
from pathlib import Path

import pytest

from harness import Process, connect, free_port, simple_config, tcp_url, wait_tcp_listening
from health import CLIENT_MARK, Impostor, wait_state

# Debian installs each major version beside the others; the newest will do.
_PG_BINS = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"),
                  key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0)
PG_BIN = _PG_BINS[-1].parent if _PG_BINS else Path("/nonexistent")

pytestmark = pytest.mark.skipif(not (PG_BIN / "initdb").exists(), reason="no postgresql")

# PostgreSQL refuses to run as root: the cluster runs as nobody when the tests are root.
AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] \
    if os.geteuid() == 0 else []


def startup(user: str, database: str, application: bytes) -> bytes:
    body = struct.pack("!I", 196608)
    for key, value in ((b"user", user.encode()), (b"database", database.encode()),
                       (b"application_name", application)):
        body += key + b"\0" + value + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


@pytest.fixture
def postgres(processes):
    d = Path(tempfile.mkdtemp(prefix="l4lb-pg-", dir="/tmp"))
    try:
        if AS_NOBODY:
            shutil.chown(d, "nobody", "nogroup")
        data = d / "data"
        r = subprocess.run(AS_NOBODY + [str(PG_BIN / "initdb"), "-D", str(data), "-U", "l4lb",
                                        "--auth=trust", "--no-sync"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        port = free_port()
        p = Process(AS_NOBODY + [str(PG_BIN / "postgres"), "-D", str(data), "-p", str(port),
                                 "-k", str(d), "-c", "listen_addresses=127.0.0.1",
                                 "-c", "fsync=off"], d, "postgres")
        processes.append(p)
        wait_tcp_listening(port, timeout=30)
        yield tcp_url(port)
        p.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("check", ["pgsql", "tcp"])
def test_pgsql_check_keeps_clients_off_an_impostor(l4lb, postgres, check):
    impostor = Impostor(tcp_url(free_port()), reply=b"HTTP/1.1 400 Bad Request\r\n\r\n")
    listen = tcp_url(free_port())
    health = {"check": check, "interval": "200ms", "timeout": "500ms", "rise": 1, "fall": 1}
    if check == "pgsql":
        health.update({"user": "l4lb", "database": "postgres"})
    try:
        proc = l4lb(simple_config(listen, [{"address": postgres, "name": "real"},
                                           {"address": impostor.url, "name": "impostor"}],
                                  pool={"health": health, "retries": 0}), ready=[listen])
        assert wait_state(proc, "real", "up", 15) is not None, proc.describe()
        assert wait_state(proc, "impostor", "down" if check == "pgsql" else "up", 15), \
            proc.describe()
        failed = 0
        for _ in range(20):
            try:
                with connect(listen) as s:
                    s.sendall(startup("l4lb", "postgres", CLIENT_MARK))
                    assert s.recv(1) == b"R"
                    s.sendall(b"X\0\0\0\x04")
            except (OSError, AssertionError):
                failed += 1
        if check == "pgsql":
            assert impostor.client_hits == 0 and failed == 0, \
                f"{impostor.client_hits} reached the impostor, {failed} failed"
            assert "ReadyForQuery" in proc.stderr(), proc.describe()
        else:
            assert impostor.client_hits > 0
    finally:
        impostor.stop()


def test_pgsql_unknown_database_is_down(l4lb, postgres):
    listen = tcp_url(free_port())
    proc = l4lb(simple_config(listen, [{"address": postgres, "name": "pg"}],
                              pool={"health": {"check": "pgsql", "user": "l4lb",
                                               "database": "nosuchdb", "interval": "200ms",
                                               "rise": 1, "fall": 1}}), ready=[listen])
    assert wait_state(proc, "pg", "down", 15) is not None, proc.describe()
    assert "nosuchdb" in proc.stderr() and "does not exist" in proc.stderr(), proc.describe()
