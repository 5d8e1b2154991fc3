"""Backend states over time: a stopped server is marked down within fall x interval (+timeout)
and up again within rise x interval, with no client failure in a two-backend pool; backups
serve only while every primary is down; slow start ramps a returning backend's share; passive
ejection keeps a failing backend out without any active check."""

from __future__ import annotations

import collections
import shutil
import time

import pytest

from harness import (ask_name, connect, free_port, recv_exact, set_linger_zero, simple_config,
                     start_redis, tcp_url, wait_until)
from health import SequentialClients, log_offset, wait_state

INTERVAL = 0.2
TIMEOUT = 0.3
# Scheduling slack on a loaded CI machine, on top of the bound the checks promise.
SLACK = 1.5


@pytest.mark.skipif(not shutil.which("redis-server"), reason="no redis-server")
def test_stopped_redis_marked_down_then_up_without_client_failures(l4lb, workdir, processes):
    ports = [free_port(), free_port()]
    servers = [start_redis(workdir, p) for p in ports]
    processes.extend(servers)
    listen = tcp_url(free_port())
    rise, fall = 2, 2
    proc = l4lb(simple_config(listen, [{"address": tcp_url(p), "name": f"r{i}"}
                                       for i, p in enumerate(ports)],
                              pool={"health": {"check": "redis", "interval": "200ms",
                                               "timeout": "300ms", "rise": rise, "fall": fall},
                                    "retries": 2,
                                    "retry_on": ["conn-failure", "empty-response",
                                                 "refused-greeting"]}),
                ready=[listen])
    for name in ("r0", "r1"):
        assert wait_state(proc, name, "up", 10) is not None, proc.describe()

    def ping():
        with connect(listen) as s:
            s.sendall(b"*1\r\n$4\r\nPING\r\n")
            assert recv_exact(s, 7) == b"+PONG\r\n"

    clients = SequentialClients(ping)
    try:
        time.sleep(0.5)
        offset = log_offset(proc)
        servers[0].stop()
        down_after = wait_state(proc, "r0", "down", 10, after=offset)
        assert down_after is not None, proc.describe()
        assert down_after <= fall * INTERVAL * 1.1 + TIMEOUT + SLACK, down_after

        offset = log_offset(proc)
        processes.append(start_redis(workdir, ports[0]))
        up_after = wait_state(proc, "r0", "up", 10, after=offset)
        assert up_after is not None, proc.describe()
        assert up_after <= rise * INTERVAL * 1.1 + TIMEOUT + SLACK, up_after
        time.sleep(0.5)
        clients.keep_on_until(21)
    finally:
        clients.stop()
    assert clients.ok > 20, f"only {clients.ok} client connections ran"
    # A connection redis-server took, or the kernel queued for it, in the instant before it
    # exited is closed before its answer: retry_on sends its PING to r1.
    assert not clients.failures, f"{len(clients.failures)} failed: {clients.failures[:5]}"
    assert "r0: up -> down (redis check:" in proc.stderr()


def test_backup_serves_only_while_every_primary_is_down(l4lb, servers):
    p_port = free_port()
    primary = servers(tcp_url(p_port), name="primary")
    backup = servers(tcp_url(free_port()), name="backup")
    listen = tcp_url(free_port())
    proc = l4lb(simple_config(listen, [{"address": primary.url, "name": "primary"},
                                       {"address": backup.url, "name": "backup",
                                        "backup": True}],
                              pool={"health": {"check": "tcp", "interval": "200ms",
                                               "timeout": "300ms", "rise": 1, "fall": 1}}),
                ready=[listen])
    assert wait_state(proc, "primary", "up", 10) is not None, proc.describe()
    assert wait_state(proc, "backup", "up", 10) is not None, proc.describe()
    # The log line comes from the health thread; each worker applies the new states when it
    # next runs its loop, a moment later.
    assert wait_until(lambda: ask_name(listen) == "primary", 5), proc.describe()
    assert {ask_name(listen) for _ in range(20)} == {"primary"}

    offset = log_offset(proc)
    primary.stop()
    assert wait_state(proc, "primary", "down", 10, after=offset) is not None, proc.describe()
    assert wait_until(lambda: ask_name(listen) == "backup", 5), proc.describe()
    assert {ask_name(listen) for _ in range(20)} == {"backup"}

    offset = log_offset(proc)
    servers(tcp_url(p_port), name="primary")
    assert wait_state(proc, "primary", "up", 10, after=offset) is not None, proc.describe()
    assert wait_until(lambda: ask_name(listen) == "primary", 5), proc.describe()
    assert {ask_name(listen) for _ in range(20)} == {"primary"}


def test_slow_start_ramps_the_share_of_a_returning_backend(l4lb, servers):
    a = servers(tcp_url(free_port()), name="a")
    b_port = free_port()
    b = servers(tcp_url(b_port), name="b")
    listen = tcp_url(free_port())
    proc = l4lb(simple_config(listen, [{"address": a.url, "name": "a"},
                                       {"address": b.url, "name": "b"}],
                              global_={"workers": 1},
                              pool={"slow_start": "4s",
                                    "health": {"check": "tcp", "interval": "100ms",
                                               "timeout": "300ms", "rise": 1, "fall": 1}}),
                ready=[listen])
    assert wait_state(proc, "b", "up", 10) is not None, proc.describe()
    offset = log_offset(proc)
    b.stop()
    assert wait_state(proc, "b", "down", 10, after=offset) is not None, proc.describe()
    offset = log_offset(proc)
    servers(tcp_url(b_port), name="b")
    assert wait_state(proc, "b", "up", 10, after=offset) is not None, proc.describe()

    # Shares of b in consecutive windows over the ramp (and a little past it).
    shares = []
    start = time.monotonic()
    while time.monotonic() - start < 5.0 and len(shares) < 5:
        window_end = time.monotonic() + 1.0
        names = collections.Counter()
        while time.monotonic() < window_end:
            names[ask_name(listen)] += 1
        shares.append(names["b"] / max(1, sum(names.values())))
    assert len(shares) >= 4, shares
    assert shares[0] < shares[-1], f"no ramp: {shares}"
    assert shares[0] < 0.35, f"b got {shares[0]:.0%} right after coming back: {shares}"
    assert shares[-1] > 0.35, f"b never got near its full share: {shares}"
    assert shares[1] <= shares[-1] + 0.1, shares


def test_passive_ejection_without_active_checks(l4lb, servers):
    """A backend refusing connections is ejected after eject_after failures on a worker, so later
    clients do not even try it; after eject_for it is readmitted on probation."""
    dead_port = free_port()
    live = servers(tcp_url(free_port()), name="live")
    listen = tcp_url(free_port())
    proc = l4lb(simple_config(listen, [{"address": tcp_url(dead_port), "name": "flaky"},
                                       {"address": live.url, "name": "live"}],
                              global_={"workers": 1},
                              pool={"eject_after": 2, "eject_for": "1s", "retries": 1}),
                ready=[listen])
    for _ in range(10):
        assert ask_name(listen) == "live"
    assert proc.wait_log(r"backend flaky: ejected for 1000 ms", 5), proc.describe()
    # The flaky backend comes back: readmitted after the backoff, then used again.
    servers(tcp_url(dead_port), name="flaky")

    def flaky_used():
        return any(ask_name(listen) == "flaky" for _ in range(4))

    assert wait_until(flaky_used, 10, 0.2), proc.describe()
    assert proc.wait_log(r"backend flaky: readmitted on probation", 1), proc.describe()


def test_passive_ejection_of_a_backend_that_resets(l4lb, servers):
    """A backend that accepts and then resets every connection is ejected too: a reset counts
    against it like a failed connect."""

    def reset_at_once(conn, server):
        set_linger_zero(conn)

    resetter = servers(tcp_url(free_port()), handler=reset_at_once, name="resetter")
    live = servers(tcp_url(free_port()), name="live")
    listen = tcp_url(free_port())
    proc = l4lb(simple_config(listen, [{"address": resetter.url, "name": "resetter"},
                                       {"address": live.url, "name": "live"}],
                              global_={"workers": 1},
                              pool={"eject_after": 2, "eject_for": "30s"}),
                ready=[listen])
    for _ in range(6):
        try:
            ask_name(listen)
        except OSError:
            pass  # the resetter's clients see its reset
    assert proc.wait_log(r"backend resetter: ejected for 30000 ms", 5), proc.describe()
    before = resetter.accepted
    assert {ask_name(listen) for _ in range(20)} == {"live"}
    assert resetter.accepted == before
