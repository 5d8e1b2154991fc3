"""Connection limits: [global] and [[listener]] max_connections hold new connections in the
kernel's backlog (accepted later, none dropped); per_source_max_connections and per_source_rate
close a client address's excess connections at once, counted, while other addresses go on."""

from __future__ import annotations

import re
import socket
from contextlib import ExitStack

from datagrams import json_records
from harness import (config_toml, connect, free_port, recv_line, simple_config,
                     tcp_url, wait_until)

HOLD_CHECK = 0.5  # how long a held-back connection is watched for not being served


def served(s: socket.socket) -> bool:
    """Whether the backend's greeting reaches this client within HOLD_CHECK."""
    s.settimeout(HOLD_CHECK)
    try:
        return recv_line(s) != b""
    except socket.timeout:
        return False


def connect_from(url: str, source: str) -> socket.socket:
    host, port = url.removeprefix("tcp://").rsplit(":", 1)
    s = socket.create_connection((host, int(port)), timeout=5, source_address=(source, 0))
    return s


def refused(url: str, source: str) -> bool:
    """True when l4lb closes a new connection from `source` without serving it (a reset may
    already show at connect, as l4lb can accept and reset before connect() returns here)."""
    try:
        s = connect_from(url, source)
    except ConnectionResetError:
        return True
    with s:
        try:
            return s.recv(64) == b""
        except ConnectionResetError:
            return True


def summary(proc) -> str:
    assert proc.stop() == 0, proc.describe()
    m = re.search(r"stopped after .*", proc.stderr())
    assert m, proc.describe()
    return m.group(0)


def test_listener_max_connections_holds_the_next_in_the_backlog(l4lb, servers):
    backend = servers(tcp_url(free_port()), name="b")
    listen = tcp_url(free_port())
    proc = l4lb(simple_config(listen, [backend.url], listener={"max_connections": 3},
                              global_={"workers": 2}), ready=[listen])
    with ExitStack() as stack:
        held = [stack.enter_context(connect(listen)) for _ in range(3)]
        for s in held:
            assert recv_line(s) == b"b\n"
        waiting = stack.enter_context(connect(listen))  # the kernel completes the handshake
        assert not served(waiting), "a 4th connection was served past max_connections = 3"
        assert backend.accepted == 3
        held[0].close()
        waiting.settimeout(5)
        assert recv_line(waiting) == b"b\n"  # served as soon as there was room, not dropped
        assert backend.accepted == 4
    assert re.search(r"accepting held back [1-9]\d* times", summary(proc))


def test_global_max_connections_spans_listeners(l4lb, servers):
    backend = servers(tcp_url(free_port()), name="b")
    first, second = tcp_url(free_port()), tcp_url(free_port())
    pool = {"backends": [{"address": backend.url}]}
    l4lb(config_toml([{"name": "one", "bind": first, "pool": "p"},
                      {"name": "two", "bind": second, "pool": "p"}],
                     {"p": pool}, {"max_connections": 2, "workers": 1}), ready=[first, second])
    with ExitStack() as stack:
        a = stack.enter_context(connect(first))
        b = stack.enter_context(connect(second))
        assert recv_line(a) == b"b\n" and recv_line(b) == b"b\n"
        c = stack.enter_context(connect(second))
        assert not served(c)
        a.close()
        c.settimeout(5)
        assert recv_line(c) == b"b\n"


def test_per_source_max_connections(l4lb, servers):
    backend = servers(tcp_url(free_port()), name="b")
    listen = tcp_url(free_port())
    # Two workers: each address must still be counted as one, wherever its connections land.
    proc = l4lb(simple_config(listen, [backend.url], listener={"per_source_max_connections": 2},
                              global_={"workers": 2}), ready=[listen])
    with ExitStack() as stack:
        for _ in range(2):
            s = stack.enter_context(connect_from(listen, "127.0.0.1"))
            assert recv_line(s) == b"b\n"
        for _ in range(3):  # every further one from that address, on either worker
            assert refused(listen, "127.0.0.1"), "an excess connection was served"
        other = stack.enter_context(connect_from(listen, "127.0.0.2"))
        assert recv_line(other) == b"b\n"
    # Closing frees the address's slots.
    assert wait_until(lambda: backend.active == 0, 5)
    with connect_from(listen, "127.0.0.1") as again:
        assert recv_line(again) == b"b\n"
    assert backend.accepted == 4
    assert "3 over per_source_max_connections" in summary(proc)


def test_per_source_rate(l4lb, servers):
    backend = servers(tcp_url(free_port()), name="b")
    listen = tcp_url(free_port())
    # Per minute: no token comes back during the test, so the count is exact.
    proc = l4lb(simple_config(listen, [backend.url], listener={"per_source_rate": "3/m"},
                              global_={"workers": 2}), ready=[listen])
    for _ in range(3):
        with connect_from(listen, "127.0.0.1") as s:
            assert recv_line(s) == b"b\n"
    assert refused(listen, "127.0.0.1")
    with connect_from(listen, "127.0.0.2") as s:
        assert recv_line(s) == b"b\n"
    assert backend.accepted == 4
    assert "1 over per_source_rate" in summary(proc)


def test_allow_and_deny_by_source_address(l4lb, servers):
    """deny wins over allow; an address outside a non-empty allow list is refused; refused
    connections never reach a backend."""
    backend = servers(tcp_url(free_port()), name="b")
    open_to_8, only_2 = tcp_url(free_port()), tcp_url(free_port())
    pool = {"backends": [{"address": backend.url}]}
    proc = l4lb(config_toml(
        [{"name": "most", "bind": open_to_8, "pool": "p", "allow": ["127.0.0.0/8"],
          "deny": ["127.0.0.2"]},
         {"name": "two", "bind": only_2, "pool": "p", "allow": ["127.0.0.2/32"]}],
        {"p": pool}, {"workers": 2}), ready=[open_to_8, only_2])
    with connect_from(open_to_8, "127.0.0.1") as s:
        assert recv_line(s) == b"b\n"
    with connect_from(open_to_8, "127.0.0.3") as s:
        assert recv_line(s) == b"b\n"
    assert refused(open_to_8, "127.0.0.2")  # in allow, but denied
    assert refused(only_2, "127.0.0.1")     # not in allow
    with connect_from(only_2, "127.0.0.2") as s:
        assert recv_line(s) == b"b\n"
    assert backend.accepted == 3
    assert "refused: 2 by allow/deny" in summary(proc)


def test_full_backend_is_skipped(l4lb, servers):
    """max_connections = 1 on a: with one connection open to it, round-robin sends every new
    connection to b instead."""
    a = servers(tcp_url(free_port()), name="a")
    b = servers(tcp_url(free_port()), name="b")
    listen = tcp_url(free_port())
    l4lb(simple_config(listen, [{"address": a.url, "max_connections": 1}, b.url],
                       global_={"workers": 2}), ready=[listen])
    with ExitStack() as stack:
        names = []
        for _ in range(6):
            s = stack.enter_context(connect(listen))
            names.append(recv_line(s))
        assert names.count(b"a\n") == 1 and names.count(b"b\n") == 5, names
    assert a.accepted == 1


def test_all_full_waits_in_the_queue_then_gets_the_freed_slot(l4lb, servers):
    backend = servers(tcp_url(free_port()), name="b")
    listen = tcp_url(free_port())
    proc = l4lb(simple_config(listen, [{"address": backend.url, "max_connections": 2}],
                              pool={"queue_timeout": "30s"}, global_={"workers": 2}),
                ready=[listen])
    with ExitStack() as stack:
        held = [stack.enter_context(connect(listen)) for _ in range(2)]
        for s in held:
            assert recv_line(s) == b"b\n"
        waiting = stack.enter_context(connect(listen))  # accepted by l4lb, queued
        assert not served(waiting)
        assert backend.accepted == 2
        held[1].close()  # its slot goes to the queued connection
        waiting.settimeout(10)
        assert recv_line(waiting) == b"b\n"
        waiting.sendall(b"still here\n")
        assert recv_line(waiting) == b"still here\n"
    assert wait_until(lambda: backend.active == 0, 5)
    assert "1 queued for a backend slot" in summary(proc)


def test_queue_timeout_closes_the_waiting_connection(l4lb, servers, workdir):
    backend = servers(tcp_url(free_port()), name="b")
    listen = tcp_url(free_port())
    log = workdir / "access.log"
    proc = l4lb(simple_config(listen, [{"address": backend.url, "max_connections": 1}],
                              pool={"queue_timeout": "300ms"},
                              global_={"workers": 1, "access_log": str(log)}), ready=[listen])
    with connect(listen) as held:
        assert recv_line(held) == b"b\n"
        with connect(listen) as late:
            late.settimeout(10)
            try:
                assert late.recv(64) == b""  # closed, never served
            except ConnectionResetError:
                pass
    assert backend.accepted == 1
    proc.stop()
    ends = [r["end"] for r in json_records(log.read_text())]
    assert ends.count("queue-timeout") == 1, ends
