"""Half-close: an EOF from one side becomes shutdown(SHUT_WR) on the other while the opposite
direction keeps flowing; the connection ends only when both directions are done."""

from __future__ import annotations

import hashlib
import os
import queue
import shutil
import socket

import pytest

from harness import (Process, connect, count_handler, echo_both_ways, free_port,
                     recv_until_eof, simple_config, tcp_url, wait_closed, wait_tcp_listening)

MB = 1 << 20


def proxy_to(l4lb, backend_url: str) -> str:
    listen = tcp_url(free_port())
    l4lb(simple_config(listen, [backend_url]), ready=[listen])
    return listen


def send_then_half_close(listen: str, payload: bytes) -> bytes:
    with connect(listen) as s:
        s.sendall(payload)
        s.shutdown(socket.SHUT_WR)
        return recv_until_eof(s)


def test_client_eof_reaches_backend_python_counter(l4lb, servers):
    backend = servers(tcp_url(free_port()), count_handler, "counter")
    listen = proxy_to(l4lb, backend.url)
    assert send_then_half_close(listen, os.urandom(MB)) == b"1048576"


@pytest.mark.skipif(not shutil.which("socat"), reason="socat not installed")
def test_client_eof_reaches_backend_socat_wc(l4lb, workdir, processes):
    port = free_port()
    processes.append(Process(["socat", "-t", "5",
                              f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork", "EXEC:wc -c"],
                             workdir, "socat"))
    wait_tcp_listening(port)
    listen = proxy_to(l4lb, tcp_url(port))
    assert send_then_half_close(listen, b"a" * MB).strip() == b"1048576"


def test_backend_eof_reaches_client_which_can_still_send(l4lb, servers):
    to_client = os.urandom(256 * 1024)
    to_backend = os.urandom(300 * 1024)
    got = queue.Queue()

    def handler(conn, server):
        conn.sendall(to_client)
        conn.shutdown(socket.SHUT_WR)
        got.put(recv_until_eof(conn))

    backend = servers(tcp_url(free_port()), handler, "writer")
    listen = proxy_to(l4lb, backend.url)
    with connect(listen) as s:
        assert recv_until_eof(s) == to_client  # the backend's FIN came through as EOF
        s.sendall(to_backend)  # our direction is still open
        s.shutdown(socket.SHUT_WR)
        how, rest = wait_closed(s)
        assert (how, rest) == ("eof", b"")
    received = got.get(timeout=10)
    assert len(received) == len(to_backend)
    assert received == to_backend


def test_large_echo_both_directions_at_once(l4lb, servers):
    """4 MB each way at the same time through an echo backend: no deadlock, no corruption."""
    backend = servers(tcp_url(free_port()), name="echo")
    listen = proxy_to(l4lb, backend.url)
    payload = os.urandom(4 * MB)
    echoed = echo_both_ways(listen, b"echo\n", payload)
    assert len(echoed) == len(payload)
    assert hashlib.sha256(echoed).digest() == hashlib.sha256(payload).digest()
