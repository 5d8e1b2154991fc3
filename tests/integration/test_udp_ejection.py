"""Passive ejection in datagram pools (issue 15, defect 2): a UDP backend that answers with ICMP
port unreachable is ejected on the worker that saw the refusal, so single-datagram clients (each
message from a new source port, as `logger -d` sends) stop losing 1/N of their messages; after
its backoff it is readmitted on probation, ejected again for twice as long while still dead, and
picked again once it is alive.

The backends are one-way sinks that never answer, as syslog servers are."""

from __future__ import annotations

import shutil
import socket
import subprocess

import pytest

from harness import (DatagramServer, free_udp_port, simple_config, udp_url, wait_until)
from netns import VethPeer, netns_available

# On the veth pair's link (198.51.100.0/24) but held by no one: its ARP is never answered.
GONE_ADDRESS = "198.51.100.77"


def sink(port: int = 0) -> DatagramServer:
    """A UDP server on loopback that keeps what it receives and never answers."""
    return DatagramServer(socket.AF_INET, ("127.0.0.1", port), reply=None)


def send_single(port: int, payload: bytes) -> None:
    """One datagram from a new socket, so a new source port: a flow of its own."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(payload, ("127.0.0.1", port))


def send_with_logger(port: int, message: str) -> None:
    """What an operator's `logger -d` does: one RFC 3164 datagram from a fresh socket."""
    subprocess.run(["logger", "-d", "-n", "127.0.0.1", "-P", str(port), "--rfc3164", "-t",
                    "l4lb-test", message], check=True, timeout=10)


def received(server: DatagramServer, tag: bytes) -> bool:
    return any(tag in d for d in list(server.received))


def eject_until(proc, listen: int, pattern: str, prefix: str, limit: int = 40) -> int:
    """Sends single datagrams (`prefix`-n) until `pattern` is in l4lb's log; how many it sent."""
    for n in range(limit):
        send_single(listen, f"{prefix}-{n}".encode())
        if proc.wait_log(pattern, 0.2):
            return n + 1
    raise AssertionError(f"no {pattern!r} after {limit} datagrams\n" + proc.describe())


def two_sink_config(listen: int, dead: int, live: DatagramServer, eject_for: str) -> str:
    return simple_config(udp_url(listen),
                         [{"address": udp_url(dead), "name": "dead"},
                          {"address": udp_url(live.address[1]), "name": "live"}],
                         global_={"workers": 1},
                         pool={"eject_after": 1, "eject_for": eject_for, "retries": 1})


@pytest.mark.skipif(not shutil.which("logger"), reason="no logger (bsdutils)")
def test_refused_udp_backend_is_ejected_so_single_datagrams_reach_the_live_one(l4lb):
    live = sink()
    dead = free_udp_port()  # nothing listens: the kernel answers ICMP port unreachable
    listen = free_udp_port()
    try:
        proc = l4lb(two_sink_config(listen, dead, live, "60s"), ready=[udp_url(listen)])
        # Round-robin sends the first or the second new flow to the dead backend; that datagram
        # is lost and its refusal ejects the backend from this (the only) worker's picks.
        sent = eject_until(proc, listen, r"backend dead: ejected for 60000 ms", "early")
        assert sent >= 1
        assert proc.wait_log(r"consecutive refusals", 1), proc.describe()
        # From now on every single-datagram client reaches the live backend.
        messages = [f"after-ejection-{i}" for i in range(20)]
        for m in messages:
            send_with_logger(listen, m)
        assert wait_until(lambda: all(received(live, m.encode()) for m in messages), 10), \
            [m for m in messages if not received(live, m.encode())]
    finally:
        live.stop()


def test_ejected_udp_backend_doubles_its_backoff_then_returns_once_alive(l4lb):
    live = sink()
    dead_port = free_udp_port()
    listen = free_udp_port()
    revived = None
    try:
        proc = l4lb(two_sink_config(listen, dead_port, live, "1s"), ready=[udp_url(listen)])
        eject_until(proc, listen, r"backend dead: ejected for 1000 ms", "first")
        # Still dead when readmitted on probation: its next refusal ejects it for twice as long.
        eject_until(proc, listen, r"backend dead: ejected for 2000 ms", "probation", limit=100)
        assert proc.wait_log(r"backend dead: readmitted on probation", 1), proc.describe()
        # Alive again: after the backoff, new flows reach it.
        revived = sink(dead_port)
        count = 0

        def revived_used() -> bool:
            nonlocal count
            count += 1
            send_single(listen, f"back-{count}".encode())
            return len(revived.received) > 0

        assert wait_until(revived_used, 15, 0.1), proc.describe()
        assert b"back-" in revived.received[0]
        # Its datagrams are taken (no refusal): no third ejection.
        for i in range(6):
            send_single(listen, f"settled-{i}".encode())
        assert wait_until(lambda: received(live, b"settled-") and received(revived, b"settled-"),
                          5), proc.describe()
        assert proc.wait_log(r"backend dead: ejected for 4000 ms", 0.5) is None, proc.describe()
    finally:
        live.stop()
        if revived is not None:
            revived.stop()


@pytest.mark.skipif(not netns_available(), reason="needs root and ip(8) for a veth namespace")
def test_backend_whose_host_is_gone_is_ejected_on_host_unreachable(l4lb):
    """A backend on a host that is gone (its address on the link answers no ARP): after the
    neighbour lookup fails the kernel reports ICMP host unreachable, which Linux tells a
    connected UDP socket only with IP_RECVERR. The flow moves and the backend is ejected, so later
    single datagrams reach the live backend."""
    live = sink()
    listen = free_udp_port()
    try:
        with VethPeer():
            gone = f"udp://{GONE_ADDRESS}:514"
            proc = l4lb(simple_config(udp_url(listen),
                                      [{"address": gone, "name": "gone"},
                                       {"address": udp_url(live.address[1]), "name": "live"}],
                                      global_={"workers": 1},
                                      pool={"eject_after": 1, "eject_for": "60s", "retries": 1}),
                        ready=[udp_url(listen)])
            # Round-robin: the first or second flow goes to the gone host; its datagram waits on
            # the neighbour lookup (about 3 s) and is lost.
            for n in range(4):
                send_single(listen, f"early-{n}".encode())
            assert proc.wait_log(r"backend gone: ejected for 60000 ms", 15), proc.describe()
            for i in range(10):
                send_single(listen, f"after-{i}".encode())
            assert wait_until(lambda: all(received(live, f"after-{i}".encode())
                                          for i in range(10)), 10), live.received
    finally:
        live.stop()
