"""Unix datagram and POSIX message-queue listeners and backends, with real senders and
receivers: socat, Python sockets, and a ctypes POSIX mq reader and writer."""

from __future__ import annotations

import itertools
import os
import re
import socket
import subprocess

import pytest

from harness import (DatagramServer, MessageQueue, Process, child_command, config_toml,
                     datagram_totals, flow_records, free_udp_port, mq_unlink, server_udp_url,
                     udp_client, udp_server, udp_url, wait_until)

_names = itertools.count()


@pytest.fixture
def mq_name():
    """A queue name of this test alone, unlinked afterwards."""
    names: list[str] = []

    def make() -> str:
        name = f"/l4lb-it-{os.getpid()}-{next(_names)}"
        mq_unlink(name)
        names.append(name)
        return name

    yield make
    for name in names:
        mq_unlink(name)


def one_pool(bind: str, backends: list[dict], log=None, listener: dict | None = None) -> str:
    lst = {"name": "front", "bind": bind, "pool": "back"}
    lst.update(listener or {})
    g = {"workers": 2}
    if log is not None:
        g["access_log"] = str(log)
    return config_toml([lst], {"back": {"backends": backends}}, g)


def socat_send(listener_path: str, client_path: str, data: bytes) -> bytes:
    """socat as a named unixgram client: sends `data`, prints what comes back within 2 s."""
    r = subprocess.run(child_command(["socat", "-t", "2", "-", f"UNIX-SENDTO:{listener_path},"
                                      f"bind={client_path}"]),
                       input=data, capture_output=True, timeout=15)
    return r.stdout


def test_unixgram_listener_to_socat_unixgram_backend(l4lb, processes, workdir):
    backend = str(workdir / "backend.sock")
    processes.append(Process(["socat", f"UNIX-RECVFROM:{backend},fork", "EXEC:cat"], workdir,
                             "socat"))
    assert wait_until(lambda: os.path.exists(backend), 10)
    listen = str(workdir / "l4lb.sock")
    url = f"unixgram://{listen}"
    log = workdir / "access.log"
    proc = l4lb(one_pool(url, [{"address": f"unixgram://{backend}"}], log), ready=[url])
    assert socat_send(listen, str(workdir / "c1.sock"), b"hello\n") == b"hello\n"
    assert socat_send(listen, str(workdir / "c2.sock"), b"again\n") == b"again\n"
    proc.stop()
    assert not os.path.exists(listen), "the listener's socket file is removed at exit"
    clients = sorted(r["client"] for r in flow_records(log))
    assert clients == [str(workdir / "c1.sock"), str(workdir / "c2.sock")], clients


def test_abstract_unixgram_listener_to_udp_backend(l4lb, workdir):
    backend = udp_server(prefix=b"udp:")
    try:
        name = f"l4lb-it-{os.getpid()}-abstract"
        url = f"unixgram://@{name}"
        proc = l4lb(one_pool(url, [{"address": server_udp_url(backend)}]), ready=[url])
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as c:
            c.bind(f"\0{name}-client")
            c.settimeout(5)
            c.sendto(b"hi", f"\0{name}")
            assert c.recv(100) == b"udp:hi"
        totals = datagram_totals((proc.stop(), proc.stderr())[1])
        assert totals["replies_sent"] == 1, totals
    finally:
        backend.stop()


def test_unnamed_unix_sender_is_forwarded_without_replies(l4lb, workdir):
    backend = DatagramServer(socket.AF_UNIX, str(workdir / "b.sock"), prefix=b"r:")
    try:
        listen = str(workdir / "l.sock")
        url = f"unixgram://{listen}"
        proc = l4lb(one_pool(url, [{"address": f"unixgram://{workdir / 'b.sock'}"}]),
                    ready=[url])
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as c:  # never bound: unnamed
            c.settimeout(0.5)
            c.sendto(b"one-way", listen)
            assert wait_until(lambda: backend.received == [b"one-way"], 10), backend.received
            with pytest.raises(socket.timeout):
                c.recv(100)
        totals = datagram_totals((proc.stop(), proc.stderr())[1])
        assert totals["dropped_no_return"] == 1 and totals["replies_in"] == 1, totals
    finally:
        backend.stop()


def test_mq_listener_forwards_messages_to_udp_backend(l4lb, workdir, mq_name):
    backend = udp_server(reply=False)
    writer = None
    try:
        name = mq_name()
        url = f"mq://{name}"
        proc = l4lb(one_pool(url, [{"address": server_udp_url(backend)}],
                             listener={"mq_max_messages": 8, "mq_message_size": 1024}),
                    ready=[url])
        writer = MessageQueue(name, write=True, max_messages=8, message_size=1024)
        for i in range(5):
            writer.send(b"job-%d" % i)
        assert wait_until(lambda: len(backend.received) == 5, 10), backend.received
        assert backend.received == [b"job-%d" % i for i in range(5)]
        totals = datagram_totals((proc.stop(), proc.stderr())[1])
        assert totals["datagrams_sent"] == 5, totals
    finally:
        if writer:
            writer.close()
        backend.stop()


def test_udp_listener_to_mq_backend_drops_oversized(l4lb, workdir, mq_name):
    name = mq_name()
    listen = free_udp_port()
    url = udp_url(listen)
    proc = l4lb(one_pool(url, [{"address": f"mq://{name}", "mq_max_messages": 4,
                                "mq_message_size": 64}]), ready=[url])
    reader = MessageQueue(name, write=False, max_messages=4, message_size=64)
    try:
        with udp_client() as c:
            c.sendto(b"small", ("127.0.0.1", listen))
            c.sendto(b"x" * 100, ("127.0.0.1", listen))
            c.sendto(b"after", ("127.0.0.1", listen))
        assert reader.receive() == b"small"
        assert reader.receive() == b"after"
        totals = datagram_totals((proc.stop(), proc.stderr())[1])
        assert totals["dropped_too_large"] == 1 and totals["datagrams_sent"] == 2, totals
    finally:
        reader.close()


def test_unixgram_listener_to_mq_backend_and_back_out(l4lb, workdir, mq_name):
    """unixgram -> mq, then that queue as an mq listener -> unixgram: two l4lb listeners."""
    name = mq_name()
    sink = DatagramServer(socket.AF_UNIX, str(workdir / "sink.sock"), reply=False)
    try:
        front = str(workdir / "front.sock")
        config = config_toml(
            [{"name": "in", "bind": f"unixgram://{front}", "pool": "queue"},
             {"name": "out", "bind": f"mq://{name}", "pool": "sink"}],
            {"queue": {"backends": [{"address": f"mq://{name}"}]},
             "sink": {"backends": [{"address": f"unixgram://{workdir / 'sink.sock'}"}]}},
            {"workers": 2})
        proc = l4lb(config, ready=[f"unixgram://{front}", f"mq://{name}"])
        with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as c:
            c.bind(str(workdir / "client.sock"))
            for i in range(3):
                c.sendto(b"m%d" % i, front)
        assert wait_until(lambda: len(sink.received) == 3, 10), sink.received
        assert sorted(sink.received) == [b"m0", b"m1", b"m2"]
        proc.stop()
    finally:
        sink.stop()


def test_config_rejects_stream_listener_with_datagram_pool(workdir):
    from harness import run_l4lb
    path = workdir / "bad.toml"
    path.write_text(config_toml([{"name": "x", "bind": "tcp://127.0.0.1:1", "pool": "p"}],
                                {"p": {"backends": [{"address": "udp://127.0.0.1:53"}]}}))
    r = run_l4lb(["check", "-c", str(path)])
    assert r.returncode == 1
    assert re.search(rf"{re.escape(str(path))}:\d+:\d+: listener\[0\]\.pool: .*a stream listener "
                     r"needs tcp:// or unix:// backends", r.stderr), r.stderr
