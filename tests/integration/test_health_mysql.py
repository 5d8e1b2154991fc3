"""The mysql check against real MariaDB servers (throwaway ones the test creates on their own
ports) and an impostor. With `user` the check logs in and quits with COM_QUIT, so the server
never counts it as an aborted connect (max_connect_errors of those would block l4lb's host); a
password comes from password_file and never shows in the log; a stopped server is marked down
and a restarted one up while clients keep being served."""

from __future__ import annotations

import errno
import re
import socket
import time

import pytest

from harness import (connect, free_port, recv_exact, recv_until_eof, simple_config,
                     tcp_url, wait_until)
from netns import PEER_ADDRESS, VethPeer, netns_available
from health import (CLIENT_MARK, Impostor, MariadbServers, SequentialClients, log_offset,
                    mariadb_available, mysql_query, wait_state)

pytestmark = pytest.mark.skipif(not mariadb_available(), reason="mariadb-server not installed")


@pytest.fixture
def mariadbs():
    servers = MariadbServers()
    yield servers
    servers.stop_all()


@pytest.fixture
def mariadb(mariadbs):
    db = mariadbs.start(args=["--skip-name-resolve"])
    db.sql("CREATE USER 'l4lb'@'127.0.0.1'; FLUSH STATUS;")
    return db


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


def read_greeting(url: str) -> bytes:
    """Connects straight to a server and returns its first packet's payload; then closes, an
    aborted connect as far as the server is concerned."""
    with connect(url) as s:
        header = recv_exact(s, 4)
        return recv_exact(s, int.from_bytes(header[:3], "little"))


PASSWORD = "s3cret pw!"


@pytest.fixture
def veth_peer():
    with VethPeer() as peer:
        yield peer


def test_mysql_wrong_password_is_down_and_never_blocks_the_host(l4lb, mariadbs, workdir,
                                                               veth_peer):
    # MariaDB keeps no host cache for loopback clients, so the server runs in a namespace of
    # its own on a veth pair, and l4lb and the test reach it from HOST_ADDRESS.
    if not netns_available():
        pytest.skip("needs root and iproute2 for a veth namespace")
    peer = veth_peer
    # Name resolution stays on (with skip-name-resolve MariaDB keeps no host cache and blocks
    # nothing), and two aborted connects block a host.
    db = mariadbs.start(bind=PEER_ADDRESS, args=["--max-connect-errors=2"], peer=peer)
    db.sql("CREATE USER 'l4lb'@'%' IDENTIFIED VIA mysql_native_password "
           f"USING PASSWORD('{PASSWORD}'); FLUSH STATUS;")
    (workdir / "right.pw").write_text(PASSWORD + "\n")
    (workdir / "wrong.pw").write_text("not-the-password\n")

    def start(name: str, password_file: str, ready: bool):
        listen = tcp_url(free_port())
        health = {"check": "mysql", "user": "l4lb", "password_file": str(workdir / password_file),
                  "interval": "200ms", "timeout": "5s", "rise": 1, "fall": 1}
        proc = l4lb(simple_config(listen, [{"address": db.url, "name": name}],
                                  pool={"health": health}), ready=[listen] if ready else None)
        return listen, proc

    # A wrong password: down, with the server's words and not the password. (No client comes
    # through this l4lb, so no readiness probe either: every connection the server sees from
    # this host is a check.)
    _, wrong = start("wrong-pw", "wrong.pw", ready=False)
    assert wait_state(wrong, "wrong-pw", "down", 20) is not None, wrong.describe()
    assert re.search(r"wrong-pw: \w+ -> down \(mysql check: login refused: 1045 Access denied "
                     r"for user 'l4lb'@'[^']+' \(using password: YES\)\)", wrong.stderr()), \
        wrong.describe()
    assert "not-the-password" not in wrong.stderr()
    # Many more refused logins than max_connect_errors, each a complete exchange the server
    # ends itself: none is a handshake abandoned, and the host is not blocked.
    assert wait_until(lambda: db.status("Aborted_connects") >= 8, 30), \
        db.status("Aborted_connects")
    assert db.status("Aborted_connects_preauth") == 0
    greeting = read_greeting(db.url)
    assert greeting[0] == 0x0a, f"host blocked: {greeting!r}"
    wrong.stop()

    # What blocking looks like from this host, so the test could see it: two greetings left
    # unanswered (what a check without user does) and the third connection is refused.
    db.sql("FLUSH HOSTS")
    for _ in range(2):
        before = db.status("Aborted_connects_preauth")
        greeting = read_greeting(db.url)
        assert greeting[0] == 0x0a, f"host blocked early: {greeting!r}"
        # The server counts the abort once it has read our EOF.
        assert wait_until(lambda: db.status("Aborted_connects_preauth") > before, 10)
    greeting = read_greeting(db.url)
    assert greeting[0] == 0xff and int.from_bytes(greeting[1:3], "little") == 1129, greeting
    db.sql("FLUSH HOSTS")

    # The right password: up, clients get through, and its checks leave nothing aborted.
    listen, right = start("right-pw", "right.pw", ready=True)
    assert wait_state(right, "right-pw", "up", 20) is not None, right.describe()
    assert re.search(r"right-pw: \w+ -> up \(mysql check: mysql login OK as 'l4lb'",
                     right.stderr()), right.describe()
    aborted, connections = db.status("Aborted_connects"), db.status("Connections")
    assert mysql_query(listen, "l4lb", PASSWORD, "SELECT CURRENT_USER()") == "l4lb@%"
    assert wait_until(lambda: db.status("Connections") >= connections + 10, 30)
    assert db.status("Aborted_connects") == aborted
    assert PASSWORD not in right.stderr()


def test_stopped_mariadb_marked_down_then_up_without_client_failures(l4lb, mariadbs, workdir):
    dbs = [mariadbs.start(args=["--skip-name-resolve"]) for _ in range(2)]
    for db in dbs:
        db.sql(f"CREATE USER 'l4lb'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'")
    (workdir / "pw").write_text(PASSWORD)
    listen = tcp_url(free_port())
    rise, fall = 2, 2
    health = {"check": "mysql", "user": "l4lb", "password_file": str(workdir / "pw"),
              "role": "primary", "interval": "200ms", "timeout": "1s", "rise": rise,
              "fall": fall}
    proc = l4lb(simple_config(listen, [{"address": db.url, "name": f"m{i}"}
                                       for i, db in enumerate(dbs)],
                              pool={"health": health, "retries": 2,
                                    "retry_on": ["conn-failure", "empty-response",
                                                 "refused-greeting"]}),
                ready=[listen])
    for name in ("m0", "m1"):
        assert wait_state(proc, name, "up", 20) is not None, proc.describe()

    def query():
        progress: list[str] = []
        try:
            assert mysql_query(listen, "l4lb", PASSWORD, "SELECT 1", progress) == "1"
        except (OSError, AssertionError) as e:
            if progress:  # the server had answered: a session in progress when it stopped
                raise AssertionError(f"cut after the {progress[-1]}: {e!r}") from e
            raise

    clients = SequentialClients(query)
    try:
        time.sleep(0.5)
        offset = log_offset(proc)
        dbs[0].stop()
        assert wait_state(proc, "m0", "down", 20, after=offset) is not None, proc.describe()
        offset = log_offset(proc)
        dbs[0].start()
        assert wait_state(proc, "m0", "up", 30, after=offset) is not None, proc.describe()
        time.sleep(0.5)
        clients.keep_on_until(21)
    finally:
        clients.stop()
    assert clients.ok > 20, f"only {clients.ok} client sessions ran"
    # Connections mariadbd closed before its greeting, or refused with "Server shutdown in
    # progress" in its place, went to m1 (retry_on): none of those may fail. mariadbd has no
    # graceful stop: it kills the sessions it is running, and a client whose greeting came
    # already cannot be moved by any balancer (the server's nonce is in its login). At most one
    # such session, in the instant of the stop.
    unanswered = [f for f in clients.failures if "cut after the" not in f]
    assert not unanswered, unanswered
    assert len(clients.failures) <= 1, clients.failures
    assert "m0: up -> down (mysql check:" in proc.stderr()
    assert "m0: down -> up (mysql check: role is primary (read_only = 0))" in proc.stderr()
