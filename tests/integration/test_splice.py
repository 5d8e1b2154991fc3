"""Bulk transfers: with `splice = "auto"` a direction that keeps filling l4lb's buffer moves its
bytes with splice(2) through a pipe instead. The bytes must arrive exactly, in order, with EOF
and backpressure behaving as when copying; with `splice = "off"` nothing is spliced."""

from __future__ import annotations

import hashlib
import os
import re
import socket
import time

import pytest

from harness import (connect, count_handler, echo_both_ways, free_port,
                     recv_until_eof, simple_config, tcp_url)

MB = 1 << 20


def backend_url(kind: str, workdir) -> str:
    return tcp_url(free_port()) if kind == "tcp" else f"unix://{workdir}/backend.sock"


def spliced_directions(proc) -> int:
    assert proc.stop() == 0, proc.describe()
    m = re.search(r"\((\d+) bulk directions moved by splice", proc.stderr())
    assert m, proc.describe()
    return int(m.group(1))


@pytest.fixture(params=["auto", "off"])
def mode(request) -> str:
    return request.param


@pytest.mark.parametrize("kind", ["tcp", "unix"])
def test_bulk_both_directions_arrive_intact(l4lb, servers, workdir, mode, kind):
    """8 MB to a counting backend, then 4 MB each way at once through an echo backend."""
    counter = servers(backend_url(kind, workdir), count_handler, "counter")
    listen = tcp_url(free_port())
    proc = l4lb(simple_config(listen, [counter.url], global_={"splice": mode}), ready=[listen])
    with connect(listen, timeout=30) as s:
        s.sendall(os.urandom(8 * MB))
        s.shutdown(socket.SHUT_WR)
        assert recv_until_eof(s) == str(8 * MB).encode()

    counter.stop()
    servers(counter.url, name="echo")  # same address: the pool is unchanged
    payload = os.urandom(4 * MB)
    echoed = echo_both_ways(listen, b"echo\n", payload)
    assert hashlib.sha256(echoed).digest() == hashlib.sha256(payload).digest()
    spliced = spliced_directions(proc)
    assert spliced >= 2 if mode == "auto" else spliced == 0


def test_slow_reader_gets_every_byte(l4lb, servers, mode):
    """A backend pushing 16 MB at a client that reads in small sips: l4lb holds back (the pipe
    or buffer fills, the backend's sends block) instead of losing or reordering anything."""
    payload = os.urandom(16 * MB)
    digest = hashlib.sha256(payload).digest()

    def pusher(conn, server):
        conn.sendall(payload)
        conn.shutdown(socket.SHUT_WR)
        recv_until_eof(conn)

    backend = servers(tcp_url(free_port()), pusher, "pusher")
    listen = tcp_url(free_port())
    proc = l4lb(simple_config(listen, [backend.url], global_={"splice": mode}), ready=[listen])
    received = hashlib.sha256()
    total = 0
    deadline = time.monotonic() + 60
    with connect(listen, timeout=30) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sips = 0
        while time.monotonic() < deadline:
            chunk = s.recv(256 * 1024)
            if not chunk:
                break
            received.update(chunk)
            total += len(chunk)
            sips += 1
            if sips % 16 == 0 and total < 2 * MB:
                time.sleep(0.05)  # stall early on, while the sender is far ahead
    assert total == len(payload)
    assert received.digest() == digest
    spliced = spliced_directions(proc)
    assert spliced >= 1 if mode == "auto" else spliced == 0
