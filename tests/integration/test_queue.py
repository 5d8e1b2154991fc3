"""The queue of connections waiting for a backend slot (README.md, queue_timeout and queue_max):
bounded, and drained one session after another, never by recursion however many fail in a row."""

from __future__ import annotations

import resource
import select
import socket
import subprocess
from contextlib import ExitStack

from datagrams import json_records
from harness import connect, free_port, recv_line, simple_config, tcp_url, wait_until
from test_metrics import parse, scrape, value

IO_TIMEOUT = 10


def active(sock: str) -> float:
    _, text = scrape(sock)
    return value(parse(text), "l4lb_listener_connections_active", listener="front")


def ended(sock: str, reason: str) -> float:
    _, text = scrape(sock)
    return value(parse(text), "l4lb_listener_connections_ended_total", listener="front",
                 reason=reason)


def open_queued(url: str, count: int, stack: ExitStack) -> list[socket.socket]:
    clients = []
    for _ in range(count):
        s = socket.create_connection(url.removeprefix("tcp://").rsplit(":", 1), timeout=IO_TIMEOUT)
        clients.append(stack.enter_context(s))
    return clients


def closed_unserved(s: socket.socket) -> bool:
    s.settimeout(IO_TIMEOUT)
    try:
        return s.recv(64) == b""
    except ConnectionResetError:
        return True


def test_queued_sessions_failing_in_a_row_do_not_recurse(l4lb, servers, workdir):
    """Every queued session finds no backend once the only one is drained: each one's end used to
    wake the next from inside itself, as deep as the queue. With a 192 KiB stack per thread, 3,000
    queued sessions overflowed it (SIGSEGV); now the worker drains the queue after the batch."""
    needed = 3100 * 2 + 200
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(needed, hard), hard))
    backend = servers(tcp_url(free_port()), name="b")
    listen = tcp_url(free_port())
    sock = str(workdir / "admin.sock")
    config = simple_config(listen, [{"address": backend.url, "max_connections": 1}],
                           pool={"queue_timeout": "120s"},
                           global_={"workers": 1}) + f'\n[admin]\nlisten = ["unix://{sock}"]\n'
    queued = 3000
    proc = l4lb(config, ready=[listen],
                wrapper=["prlimit", "--stack=196608", f"--nofile={needed}", "--"])
    with ExitStack() as stack:
        held = stack.enter_context(connect(listen))
        assert recv_line(held) == b"b\n"
        clients = open_queued(listen, queued, stack)
        assert wait_until(lambda: active(sock) == queued + 1, 30), active(sock)
        r = subprocess.run([proc.args[0], "ctl", "--socket", f"unix://{sock}", "drain", "back",
                            backend.url], capture_output=True, text=True, timeout=IO_TIMEOUT)
        assert r.returncode == 0, r.stderr
        # The ticker retries the queue; every session there finds no eligible backend.
        assert wait_until(lambda: ended(sock, "no-backend") == queued, 60), proc.describe()
        assert proc.alive(), proc.describe()
        assert all(closed_unserved(s) for s in clients[:20])
        # The held connection is untouched: draining keeps open connections.
        held.sendall(b"still here\n")
        held.settimeout(IO_TIMEOUT)
        assert recv_line(held) == b"still here\n"
    assert backend.accepted == 1


def test_queue_max_closes_the_connection_beyond_it(l4lb, servers, workdir):
    backend = servers(tcp_url(free_port()), name="b")
    listen = tcp_url(free_port())
    log = workdir / "access.log"
    sock = str(workdir / "admin.sock")
    config = simple_config(listen, [{"address": backend.url, "max_connections": 1}],
                           pool={"queue_timeout": "30s", "queue_max": 2},
                           global_={"workers": 2, "access_log": str(log)})
    config += f'\n[admin]\nlisten = ["unix://{sock}"]\n'
    proc = l4lb(config, ready=[listen])
    with ExitStack() as stack:
        held = stack.enter_context(connect(listen))
        assert recv_line(held) == b"b\n"
        waiting = open_queued(listen, 2, stack)
        assert wait_until(lambda: active(sock) == 3, 10), active(sock)
        try:
            beyond = open_queued(listen, 1, stack)[0]
            assert closed_unserved(beyond)
        except ConnectionResetError:
            pass  # reset before connect() returned here
        assert wait_until(lambda: ended(sock, "queue-full") == 1, 10)
        # The two waiting get the slot in turn once it is free (in whichever order their
        # workers look: the queue is first come, first served within a worker).
        held.close()
        for _ in range(2):
            ready, _, _ = select.select(waiting, [], [], IO_TIMEOUT)
            assert ready, "no waiting connection was served"
            assert recv_line(ready[0]) == b"b\n"
            waiting.remove(ready[0])
            ready[0].close()
    assert backend.accepted == 3
    proc.stop()
    ends = [r["end"] for r in json_records(log.read_text())]
    assert ends.count("queue-full") == 1, ends
