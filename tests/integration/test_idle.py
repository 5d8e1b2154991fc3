"""idle_timeout: a connection with no traffic either way is closed; an active one is not."""

from __future__ import annotations

import socket
import time

from harness import (connect, count_handler, free_port, recv_line, recv_until_eof, simple_config,
                     tcp_url, wait_closed)


def test_idle_connection_closed_active_one_kept(l4lb, servers):
    backend = servers(tcp_url(free_port()), name="b1")
    listen = tcp_url(free_port())
    l4lb(simple_config(listen, [backend.url], listener={"idle_timeout": "500ms"}),
         ready=[listen])
    idle = connect(listen)
    active = connect(listen)
    try:
        assert recv_line(idle) == b"b1\n"
        assert recv_line(active) == b"b1\n"
        # Keep `active` busy (a round trip every 50 ms) for 2.5 s, five idle timeouts.
        deadline = time.monotonic() + 2.5
        n = 0
        while time.monotonic() < deadline:
            msg = f"tick {n}\n".encode()
            active.sendall(msg)
            assert recv_line(active) == msg, "active connection was closed"
            n += 1
            time.sleep(0.05)
        # `idle` has been closed by now, or will be soon (generous wait, no timing assert).
        try:
            how, data = wait_closed(idle, timeout=10)
        except socket.timeout:
            raise AssertionError("idle connection still open 10 s after a 500 ms idle_timeout")
        assert data == b"" and how in ("eof", "reset")
        # And the active one still works.
        active.sendall(b"still here\n")
        assert recv_line(active) == b"still here\n"
    finally:
        idle.close()
        active.close()


def test_default_idle_timeout_keeps_quiet_connection(l4lb, servers):
    backend = servers(tcp_url(free_port()), name="b1")
    listen = tcp_url(free_port())
    l4lb(simple_config(listen, [backend.url]), ready=[listen])
    with connect(listen) as s:
        assert recv_line(s) == b"b1\n"
        time.sleep(2)
        s.sendall(b"after a quiet while\n")
        assert recv_line(s) == b"after a quiet while\n"


def test_idle_timeout_closes_half_closed_connection(l4lb, servers):
    """Client sent FIN, backend never answers nor closes: the half-open pair must not linger
    (no FIN_WAIT2 / CLOSE_WAIT forever); idle_timeout ends it."""
    def silent(conn, server):
        while conn.recv(65536):
            pass
        # EOF seen; keep our side open and say nothing
        for _ in range(300):
            if server.stopping():
                return
            time.sleep(0.1)

    backend = servers(tcp_url(free_port()), silent, "silent")
    listen = tcp_url(free_port())
    l4lb(simple_config(listen, [backend.url], listener={"idle_timeout": "500ms"}),
         ready=[listen])
    with connect(listen) as s:
        s.sendall(b"question\n")
        s.shutdown(socket.SHUT_WR)
        try:
            how, data = wait_closed(s, timeout=10)
        except socket.timeout:
            raise AssertionError("half-closed idle connection still open 10 s after a 500 ms "
                                 "idle_timeout")
        assert data == b""


def test_one_way_traffic_is_not_idle(l4lb, servers):
    """Only the client sends (the backend just reads): still activity, so no idle close."""
    backend = servers(tcp_url(free_port()), count_handler, "sink")
    listen = tcp_url(free_port())
    l4lb(simple_config(listen, [backend.url], listener={"idle_timeout": "500ms"}),
         ready=[listen])
    sent = 0
    with connect(listen) as s:
        deadline = time.monotonic() + 2.5
        while time.monotonic() < deadline:
            s.sendall(b"x" * 100)
            sent += 100
            time.sleep(0.05)
        s.shutdown(socket.SHUT_WR)
        assert recv_until_eof(s) == str(sent).encode()
