"""retry_on past the connect: a backend that closes or resets a connection before answering
("empty-response"), or refuses it in its own protocol ("refused-greeting"), is left for another
backend, which gets every byte the client sent, and its EOF, again. Without the key (the
default, "conn-failure" only) those clients fail: each test checks that too, so it proves the
retry and not a lucky spread."""

from __future__ import annotations

import os
import socket
import struct
import subprocess

import pytest

from harness import (Server, connect, count_handler, free_port, json_records, name_handler,
                     recv_exact,
                     recv_line, recv_until_eof, simple_config, tcp_url, wait_until)
from health import MariadbServers, mariadb_available, mysql_query, wait_state
from pg_cluster import HAVE_POSTGRES, SUPERUSER, PgCluster

CLIENTS = 40


def closes_at_once(conn: socket.socket, server: Server) -> None:
    """Accepts and closes without reading or answering: a server going away."""


def reads_then_closes(conn: socket.socket, server: Server) -> None:
    """Reads everything up to the client's EOF, then closes without a byte of answer."""
    while conn.recv(65536):
        pass


def pool(retry_on: list[str] | None) -> dict:
    p = {"retries": 2}
    if retry_on is not None:
        p["retry_on"] = retry_on
    return p


def echo_through(listen: str, payload: bytes) -> bytes:
    with connect(listen) as s:
        s.sendall(payload)
        name = recv_line(s)
        echoed = b""
        while len(echoed) < len(payload):
            chunk = s.recv(65536)
            if not chunk:
                break
            echoed += chunk
        return name + echoed


@pytest.mark.parametrize("retry_on", [["conn-failure", "empty-response"], None])
def test_backend_closing_before_answering_is_retried_with_the_same_bytes(l4lb, servers, workdir,
                                                                          retry_on):
    dying = servers(tcp_url(free_port()), closes_at_once, "dying")
    good = servers(tcp_url(free_port()), name_handler("good"), "good")
    listen = tcp_url(free_port())
    log = workdir / "access.log"
    proc = l4lb(simple_config(listen, [dying.url, good.url], pool=pool(retry_on),
                              global_={"access_log": str(log)}),
                ready=[listen])
    ok, failed = 0, 0
    for i in range(CLIENTS):
        payload = f"request {i} ".encode() * 50
        try:
            reply = echo_through(listen, payload)
            assert reply == b"good\n" + payload, reply[:80]
            ok += 1
        except (OSError, AssertionError):
            failed += 1
    assert dying.accepted > 0, "round robin sent nothing to the dying backend"
    if retry_on is None:
        # The default retries connects only: the connections the dying backend took fail.
        assert failed > 0 and ok > 0, (ok, failed)
        return
    assert failed == 0 and ok == CLIENTS, (ok, failed)
    assert wait_until(lambda: log.exists() and len(json_records(log.read_text())) >= CLIENTS, 10)
    records = json_records(log.read_text())
    retried = [r for r in records if r.get("attempts") == 2]
    assert retried, records[:3]
    for r in retried:
        assert r["backend"] == good.url and r["end"] == "completed", r
        # Counted once, though sent twice; the dying backend's nothing adds nothing.
        assert r["bytes_out"] == r["bytes_in"] + len(b"good\n"), r
    assert proc.stop() == 0
    assert f"{len(retried)} retried on another backend" in proc.stderr()


def test_replay_carries_the_clients_eof(l4lb, servers):
    # The client sends its request and shuts its side down; the first backend reads it all
    # and closes without a word. The second gets the same bytes and the same EOF, and its
    # byte count comes back.
    dying = servers(tcp_url(free_port()), reads_then_closes, "dying")
    counting = servers(tcp_url(free_port()), count_handler, "counting")
    listen = tcp_url(free_port())
    l4lb(simple_config(listen, [dying.url, counting.url], balance="first",
                       pool=pool(["conn-failure", "empty-response"])),
         ready=[listen])
    payload = b"x" * 10000
    for _ in range(5):
        with connect(listen) as s:
            s.sendall(payload)
            s.shutdown(socket.SHUT_WR)
            assert recv_until_eof(s) == str(len(payload)).encode()
    assert dying.accepted == 5 and counting.accepted == 5


def test_more_than_a_buffer_before_the_answer_is_not_replayed(l4lb, servers):
    # Only what fits one 16 KiB buffer is kept: past that, a backend that ends without
    # answering ends the client's connection as it would without retry_on.
    dying = servers(tcp_url(free_port()), reads_then_closes, "dying")
    counting = servers(tcp_url(free_port()), count_handler, "counting")
    listen = tcp_url(free_port())
    l4lb(simple_config(listen, [dying.url, counting.url], balance="first",
                       pool=pool(["conn-failure", "empty-response"])),
         ready=[listen])
    with connect(listen) as s:
        s.sendall(b"y" * 100_000)
        s.shutdown(socket.SHUT_WR)
        try:
            reply = recv_until_eof(s)
        except ConnectionResetError:
            reply = b"reset"
    assert reply in (b"", b"reset")
    assert counting.accepted == 0


def run_queries(listen: str) -> tuple[int, list[str]]:
    ok, failures = 0, []
    for _ in range(10):
        try:
            assert mysql_query(listen, "l4lb", "", "SELECT 1") == "1"
            ok += 1
        except (OSError, AssertionError) as e:
            failures.append(str(e))
    return ok, failures


@pytest.mark.skipif(not mariadb_available(), reason="mariadb-server not installed")
def test_mysql_too_many_connections_is_retried_on_the_other_server(l4lb, workdir):
    servers = MariadbServers()
    try:
        dbs = [servers.start(args=["--skip-name-resolve", "--max-connections=10"]),
               servers.start(args=["--skip-name-resolve"])]
        for db in dbs:
            db.sql("CREATE USER 'l4lb'@'127.0.0.1'")
        # One check, at start, while m0 still has room: it stays up for the test.
        health = {"check": "mysql", "user": "l4lb", "interval": "1h", "rise": 1, "fall": 1}
        backends = [{"address": db.url, "name": f"m{i}"} for i, db in enumerate(dbs)]
        listens = [tcp_url(free_port()), tcp_url(free_port())]
        retrying = l4lb(simple_config(listens[0], backends, pool={
            "health": health, "retry_on": ["conn-failure", "refused-greeting"]}),
            ready=[listens[0]])
        plain = l4lb(simple_config(listens[1], backends, pool={"health": health}),
                     ready=[listens[1]])
        for proc in (retrying, plain):
            for name in ("m0", "m1"):
                assert wait_state(proc, name, "up", 20) is not None, proc.describe()
        # mariadbd turns connections away before its greeting once max_connections + 1 are
        # open (the one over is kept for an administrator's login): hold 11 (10 is its least).
        holders = [connect(dbs[0].url) for _ in range(11)]
        try:
            for holder in holders:
                assert holder.recv(4096)[4:5] == b"\x0a"  # greeted: the connection counts
            ok, failures = run_queries(listens[0])
            assert ok == 10 and not failures, failures
            ok, failures = run_queries(listens[1])
            assert any("Too many connections" in f for f in failures), (ok, failures)
        finally:
            for holder in holders:
                holder.close()
    finally:
        servers.stop_all()


@pytest.mark.skipif(not HAVE_POSTGRES, reason="postgresql not installed")
def test_psql_replay_paces_the_ssl_request(l4lb, servers, workdir):
    # The first backend answers psql's SSLRequest with "N", reads the startup message and
    # closes: l4lb replays both to a real PostgreSQL, the SSLRequest alone first (PostgreSQL
    # refuses bytes sent ahead of its answer), and keeps the second "N" from the client.
    dying = servers(tcp_url(free_port()), declines_then_closes, "dying")
    pg = PgCluster(workdir, "pg").init()
    try:
        pg.start()
        listen = tcp_url(free_port())
        # The pool's pgsql check is what tells l4lb the protocol, so that an SSLRequest's answer
        # does not end the retry window. (One check each, at start: the impostor passes it.)
        health = {"check": "pgsql", "user": SUPERUSER, "database": "postgres",
                  "interval": "1h", "rise": 1, "fall": 1}
        proc = l4lb(simple_config(listen, [{"address": dying.url, "name": "dying"},
                                           {"address": pg.url, "name": "pg"}], balance="first",
                                  pool={"retries": 2, "health": health,
                                        "retry_on": ["conn-failure", "empty-response"]}),
                    ready=[listen])
        for name in ("dying", "pg"):
            assert wait_state(proc, name, "up", 15) is not None, proc.describe()
        host, port = listen.removeprefix("tcp://").rsplit(":", 1)
        for _ in range(3):
            r = subprocess.run(["psql", "-h", host, "-p", port, "-U", SUPERUSER, "-d",
                                "postgres", "-Atc", "SELECT 1"], capture_output=True, text=True,
                               timeout=30, env={**os.environ, "PGSSLMODE": "prefer",
                                                "PGCONNECT_TIMEOUT": "10"})
            assert r.returncode == 0 and r.stdout.strip() == "1", r.stderr
        assert dying.accepted == 4  # its check, and the three psql sessions
    finally:
        pg.remove()


def test_replay_with_send_proxy_sends_header_and_ssl_request_alone(l4lb, servers):
    # Byte by byte, with l4lb's PROXY header in front: the replacement gets the header and the
    # SSLRequest, and nothing more until its "N"; the client sees one "N" in all.
    seen: list[bytes] = []

    def paced_server(conn: socket.socket, server) -> None:
        request = skip_proxy_header(conn)
        if request != SSL_REQUEST:
            answer_check(conn, request)
            return
        conn.settimeout(0.3)
        try:
            early = conn.recv(100)  # nothing may come before the answer
        except socket.timeout:
            early = b""
        conn.settimeout(10)
        seen.append(request + b"|" + early)
        conn.sendall(b"N")
        length = int.from_bytes(recv_exact(conn, 4), "big")
        recv_exact(conn, length - 4)
        conn.sendall(b"R\x00\x00\x00\x08\x00\x00\x00\x00")  # AuthenticationOk

    def declines_after_header(conn: socket.socket, server) -> None:
        first = skip_proxy_header(conn)
        if first != SSL_REQUEST:
            answer_check(conn, first)
            return
        conn.sendall(b"N")
        length = int.from_bytes(recv_exact(conn, 4), "big")
        recv_exact(conn, length - 4)

    dying = servers(tcp_url(free_port()), declines_after_header, "dying")
    paced = servers(tcp_url(free_port()), paced_server, "paced")
    listen = tcp_url(free_port())
    # The pool's pgsql check (one each, at start; both servers answer it) tells l4lb the
    # protocol.
    health = {"check": "pgsql", "user": "l4lb", "interval": "1h", "rise": 1, "fall": 1}
    proc = l4lb(simple_config(listen, [{"address": dying.url, "name": "dying"},
                                       {"address": paced.url, "name": "paced"}],
                              balance="first",
                              pool={"retries": 2, "send_proxy": "v2", "health": health,
                                    "retry_on": ["conn-failure", "empty-response"]}),
                ready=[listen])
    for name in ("dying", "paced"):
        assert wait_state(proc, name, "up", 15) is not None, proc.describe()
    seen.clear()
    with connect(listen) as s:
        s.sendall(SSL_REQUEST)
        assert recv_exact(s, 1) == b"N"
        body = b"\x00\x03\x00\x00user\x00l4lb\x00\x00"
        startup = struct.pack("!I", 4 + len(body)) + body
        s.sendall(startup)
        assert recv_exact(s, 9) == b"R\x00\x00\x00\x08\x00\x00\x00\x00"
    assert seen == [SSL_REQUEST + b"|"], seen


SSL_REQUEST = b"\x00\x00\x00\x08\x04\xd2\x16\x2f"


def skip_proxy_header(conn: socket.socket) -> bytes:
    """Reads a v2 PROXY header if one comes (data connections; health checks send none) and
    returns the 8 bytes after it."""
    first = recv_exact(conn, 8)
    if first != V2_SIGNATURE[:8]:
        return first
    rest = recv_exact(conn, 8)
    (length,) = struct.unpack("!H", rest[6:8])
    recv_exact(conn, length)
    return recv_exact(conn, 8)


V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def answer_check(conn: socket.socket, first: bytes) -> None:
    """A health check's startup message (its first 8 bytes read): login OK, ready."""
    length = int.from_bytes(first[:4], "big")
    recv_exact(conn, length - 8)
    conn.sendall(b"R\x00\x00\x00\x08\x00\x00\x00\x00" + b"Z\x00\x00\x00\x05I")
    conn.recv(100)  # Terminate


def declines_then_closes(conn: socket.socket, server) -> None:
    """Answers an SSLRequest "N", reads the startup message, and closes without a word; passes
    a health check."""
    first = recv_exact(conn, 8)
    if first != SSL_REQUEST:
        answer_check(conn, first)
        return
    conn.sendall(b"N")
    length = int.from_bytes(recv_exact(conn, 4), "big")
    recv_exact(conn, length - 4)
