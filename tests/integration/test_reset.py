"""Reset propagation: an RST on one side ends the other side too (reset, or at least EOF)."""

from __future__ import annotations

import queue
import socket

from harness import (connect, free_port, recv_line, set_linger_zero, simple_config, tcp_url,
                     wait_closed)


def proxy_to(l4lb, backend_url: str) -> str:
    listen = tcp_url(free_port())
    l4lb(simple_config(listen, [backend_url]), ready=[listen])
    return listen


def test_backend_reset_reaches_client(l4lb, servers):
    def handler(conn, server):
        conn.sendall(b"ready\n")
        conn.recv(16)  # wait for the client's first bytes, then abort with RST
        set_linger_zero(conn)
        conn.close()

    backend = servers(tcp_url(free_port()), handler, "resetter")
    listen = proxy_to(l4lb, backend.url)
    with connect(listen) as s:
        assert recv_line(s) == b"ready\n"
        s.sendall(b"go\n")
        how, data = wait_closed(s)
    assert data == b""
    assert how in ("reset", "eof")


def test_client_reset_reaches_backend(l4lb, servers):
    seen = queue.Queue()

    def handler(conn, server):
        conn.sendall(b"ready\n")
        try:
            how, _ = wait_closed(conn, timeout=10)
        except socket.timeout:
            how = "still open"
        seen.put(how)

    backend = servers(tcp_url(free_port()), handler, "watcher")
    listen = proxy_to(l4lb, backend.url)
    s = connect(listen)
    assert recv_line(s) == b"ready\n"
    set_linger_zero(s)
    s.close()
    assert seen.get(timeout=15) in ("reset", "eof")


def test_proxy_survives_many_resets(l4lb, servers):
    """After a burst of client aborts, l4lb still serves."""
    backend = servers(tcp_url(free_port()), name="b1")
    listen = proxy_to(l4lb, backend.url)
    for _ in range(100):
        s = connect(listen)
        set_linger_zero(s)
        s.close()
    with connect(listen) as s:
        assert recv_line(s) == b"b1\n"
        s.sendall(b"still alive\n")
        assert recv_line(s) == b"still alive\n"
