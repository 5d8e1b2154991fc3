"""The mysql check against a real MariaDB (a throwaway server the test creates on its own port)
and an impostor. With `user` the check logs in and quits with COM_QUIT, so the server never
counts it as an aborted connect (max_connect_errors of those would block l4lb's host)."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from harness import (Process, connect, free_port, recv_exact, recv_until_eof, simple_config,
                     tcp_url, wait_tcp_listening)
from health import CLIENT_MARK, Impostor, wait_state

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("mariadbd", "mariadb-install-db", "mariadb")),
    reason="mariadb-server not installed")

AS_NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"] \
    if os.geteuid() == 0 else []


class Mariadb:
    def __init__(self, directory: Path, port: int):
        self.dir = directory
        self.port = port
        self.url = tcp_url(port)
        self.socket = str(directory / "mysqld.sock")

    def sql(self, statement: str) -> str:
        r = subprocess.run(["mariadb", "--no-defaults", "-S", self.socket, "-u", "root", "-N",
                            "-B", "-e", statement], capture_output=True, text=True, timeout=30)
        assert r.returncode == 0, r.stdout + r.stderr
        return r.stdout.strip()


@pytest.fixture
def mariadb(processes):
    d = Path(tempfile.mkdtemp(prefix="l4lb-my-", dir="/tmp"))
    try:
        if AS_NOBODY:
            shutil.chown(d, "nobody", "nogroup")
        data = d / "data"
        r = subprocess.run(AS_NOBODY + ["mariadb-install-db", "--no-defaults",
                                        f"--datadir={data}", "--auth-root-authentication-method=normal",
                                        "--skip-test-db"],
                           capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stdout + r.stderr
        port = free_port()
        db = Mariadb(d, port)
        p = Process(AS_NOBODY + ["mariadbd", "--no-defaults", f"--datadir={data}",
                                 f"--port={port}", "--bind-address=127.0.0.1",
                                 f"--socket={db.socket}", f"--pid-file={d}/mysqld.pid",
                                 "--skip-log-bin", "--skip-name-resolve",
                                 "--innodb-buffer-pool-size=16M"], d, "mariadbd")
        processes.append(p)
        wait_tcp_listening(port, timeout=30)
        db.sql("CREATE USER 'l4lb'@'127.0.0.1'; FLUSH STATUS;")
        yield db
        p.stop()
    finally:
        shutil.rmtree(d, ignore_errors=True)


@pytest.mark.parametrize("check", ["mysql", "tcp"])
def test_mysql_check_keeps_clients_off_an_impostor(l4lb, mariadb, check):
    # Greets like a MySQL server (protocol 10), then cannot log anyone in.
    impostor = Impostor(tcp_url(free_port()), greet=b"\x0a\x00\x00\x00\x0aimpostor\x00",
                        reply=b"HTTP/1.1 400 Bad Request\r\n\r\n")
    listen = tcp_url(free_port())
    health = {"check": check, "interval": "200ms", "timeout": "500ms", "rise": 1, "fall": 1}
    if check == "mysql":
        health["user"] = "l4lb"
    try:
        proc = l4lb(simple_config(listen, [{"address": mariadb.url, "name": "real"},
                                           {"address": impostor.url, "name": "impostor"}],
                                  pool={"health": health, "retries": 0}), ready=[listen])
        assert wait_state(proc, "real", "up", 15) is not None, proc.describe()
        assert wait_state(proc, "impostor", "down" if check == "mysql" else "up", 15), \
            proc.describe()
        if check == "mysql":
            assert "mysql login OK" in proc.stderr(), proc.describe()
            time.sleep(1.0)  # a few more checks
            aborted = mariadb.sql("SHOW GLOBAL STATUS LIKE 'Aborted_connects'").split()[-1]
            assert aborted == "0", f"the checks left {aborted} aborted connects"
        failed = 0
        errors: list[str] = []
        for _ in range(20):
            try:
                with connect(listen) as s:
                    # The whole greeting, then the mark, then EOF: closing with unread bytes
                    # would send a reset that could beat the mark to the server.
                    header = recv_exact(s, 4)
                    greeting = recv_exact(s, int.from_bytes(header[:3], "little"))
                    assert greeting[0] == 10, greeting
                    try:
                        s.sendall(CLIENT_MARK)
                        s.shutdown(socket.SHUT_WR)
                        recv_until_eof(s)
                    except (ConnectionResetError, BrokenPipeError):
                        pass  # MariaDB resets a client whose handshake is garbage
                    except OSError as e:
                        if e.errno != errno.ENOTCONN:  # the reset beat our shutdown
                            raise
            except (OSError, AssertionError) as e:
                errors.append(repr(e))
                failed += 1
        if check == "mysql":
            assert impostor.client_hits == 0 and failed == 0, \
                f"{impostor.client_hits} reached the impostor, {failed} failed: {errors[:3]}"
        else:
            assert impostor.client_hits > 0
    finally:
        impostor.stop()


def test_mysql_unknown_user_is_down(l4lb, mariadb):
    listen = tcp_url(free_port())
    proc = l4lb(simple_config(listen, [{"address": mariadb.url, "name": "db"}],
                              pool={"health": {"check": "mysql", "user": "nobody-here",
                                               "interval": "200ms", "rise": 1, "fall": 1}}),
                ready=[listen])
    assert wait_state(proc, "db", "down", 15) is not None, proc.describe()
    assert "Access denied" in proc.stderr(), proc.describe()
