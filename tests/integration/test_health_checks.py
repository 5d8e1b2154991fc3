"""Active health checks in each backend's own protocol: a real server beside an impostor that
accepts TCP but answers wrongly. With the protocol check no client reaches the impostor; with a
plain tcp check some do."""

from __future__ import annotations

import shutil

import pytest

from harness import (connect, connect_expect_closed, free_port, recv_line, simple_config,
                     start_redis, tcp_url)
from health import CLIENT_MARK, Impostor, start_memcached, start_nginx, wait_state

FAST = {"interval": "200ms", "timeout": "300ms", "rise": 1, "fall": 1}
CLIENTS = 30


def exchange(listen: str, request: bytes, expect: bytes) -> None:
    with connect(listen) as s:
        s.sendall(request)
        line = recv_line(s)
        assert line.startswith(expect), f"got {line!r}"


def run_pair(l4lb, real_url: str, impostor: Impostor, check: dict, request: bytes,
             expect: bytes) -> tuple[int, int]:
    """l4lb in front of [real, impostor]; waits for both verdicts, then CLIENTS connections.
    Returns (client connections that failed, client connections that reached the impostor)."""
    listen = tcp_url(free_port())
    cfg = simple_config(listen, [{"address": real_url, "name": "real"},
                                 {"address": impostor.url, "name": "impostor"}],
                        pool={"health": {**FAST, **check}, "retries": 0})
    proc = l4lb(cfg, ready=[listen])
    assert wait_state(proc, "real", "up", 10) is not None, proc.describe()
    imp_state = "down" if check["check"] != "tcp" else "up"
    assert wait_state(proc, "impostor", imp_state, 10) is not None, proc.describe()
    failed = 0
    for _ in range(CLIENTS):
        try:
            exchange(listen, request, expect)
        except (OSError, AssertionError):
            failed += 1
    return failed, impostor.client_hits


REDIS_CLIENT = b"*2\r\n$4\r\nECHO\r\n$16\r\n" + CLIENT_MARK + b"\r\n"

needs_redis = pytest.mark.skipif(not shutil.which("redis-server"), reason="no redis-server")


@needs_redis
@pytest.mark.parametrize("check", ["redis", "tcp"])
def test_redis_check_keeps_clients_off_an_impostor(l4lb, workdir, processes, check):
    port = free_port()
    processes.append(start_redis(workdir, port))
    impostor = Impostor(tcp_url(free_port()), reply=b"-ERR I am not redis\r\n")
    try:
        failed, hits = run_pair(l4lb, tcp_url(port), impostor, {"check": check}, REDIS_CLIENT,
                                b"$16")
    finally:
        impostor.stop()
    if check == "redis":
        assert hits == 0 and failed == 0, f"{hits} clients reached the impostor, {failed} failed"
    else:
        assert hits > 0, "a plain tcp check should have let clients reach the impostor"


@needs_redis
def test_redis_loading_or_error_reply_is_down(l4lb, workdir, processes):
    """An impostor that answers PING with -LOADING is down, with the reply in the log."""
    port = free_port()
    processes.append(start_redis(workdir, port))
    impostor = Impostor(tcp_url(free_port()),
                        reply=b"-LOADING Redis is loading the dataset in memory\r\n")
    listen = tcp_url(free_port())
    try:
        proc = l4lb(simple_config(listen, [{"address": tcp_url(port), "name": "real"},
                                           {"address": impostor.url, "name": "loading"}],
                                  pool={"health": {"check": "redis", **FAST}}), ready=[listen])
        assert wait_state(proc, "loading", "down", 10) is not None, proc.describe()
        assert "LOADING" in proc.stderr()
    finally:
        impostor.stop()


@pytest.mark.skipif(not shutil.which("nginx"), reason="no nginx")
@pytest.mark.parametrize("check", ["http", "tcp"])
def test_http_check_keeps_clients_off_an_impostor(l4lb, workdir, processes, check):
    port = free_port()
    processes.append(start_nginx(workdir, port))
    impostor = Impostor(tcp_url(free_port()), reply=b"SSH-2.0-OpenSSH_9.2\r\n")
    request = b"GET /" + CLIENT_MARK + b" HTTP/1.0\r\nHost: x\r\n\r\n"
    try:
        failed, hits = run_pair(l4lb, tcp_url(port), impostor,
                                {"check": check, **({"path": "/ready"} if check == "http" else {})},
                                request, b"HTTP/1.1 200")
    finally:
        impostor.stop()
    if check == "http":
        assert hits == 0 and failed == 0, f"{hits} clients reached the impostor, {failed} failed"
    else:
        assert hits > 0


@pytest.mark.skipif(not shutil.which("nginx"), reason="no nginx")
def test_http_status_outside_expect_status_is_down(l4lb, workdir, processes):
    port = free_port()
    processes.append(start_nginx(workdir, port))
    listen = tcp_url(free_port())
    proc = l4lb(simple_config(listen, [{"address": tcp_url(port), "name": "web"}],
                              pool={"health": {"check": "http", "expect_status": "201-204",
                                               **FAST}}), ready=[listen])
    assert wait_state(proc, "web", "down", 10) is not None, proc.describe()
    assert "status 200 outside 201-204" in proc.stderr()


@pytest.mark.skipif(not shutil.which("memcached"), reason="no memcached")
@pytest.mark.parametrize("check", ["memcached", "tcp"])
def test_memcached_check_keeps_clients_off_an_impostor(l4lb, workdir, processes, check):
    port = free_port()
    processes.append(start_memcached(workdir, port))
    impostor = Impostor(tcp_url(free_port()), reply=b"ERROR\r\n")
    request = b"get " + CLIENT_MARK + b"\r\nversion\r\n"
    try:
        failed, hits = run_pair(l4lb, tcp_url(port), impostor, {"check": check}, request,
                                b"END")
    finally:
        impostor.stop()
    if check == "memcached":
        assert hits == 0 and failed == 0, f"{hits} clients reached the impostor, {failed} failed"
    else:
        assert hits > 0


def test_send_expect_check(l4lb, servers):
    """send-expect with escapes: a backend greeting with the expected banner is up, another
    is down."""
    good = servers(tcp_url(free_port()), name="HELLO v1")
    bad = servers(tcp_url(free_port()), name="GOODBYE")
    listen = tcp_url(free_port())
    proc = l4lb(simple_config(listen, [{"address": good.url, "name": "good"},
                                       {"address": bad.url, "name": "bad"}],
                              pool={"health": {"check": "send-expect", "send": "hi\\r\\n",
                                               "expect": "HELLO\\x20v", **FAST}}),
                ready=[listen])
    assert wait_state(proc, "good", "up", 10) is not None, proc.describe()
    assert wait_state(proc, "bad", "down", 10) is not None, proc.describe()
    for _ in range(10):
        with connect(listen) as s:
            assert recv_line(s) == b"HELLO v1\n"


def test_all_backends_down_closes_clients_at_once(l4lb):
    """Every backend down by its check: a client is closed at once (no connect attempt, no
    hang), and the log says no backend is up."""
    listen = tcp_url(free_port())
    dead = tcp_url(free_port())
    proc = l4lb(simple_config(listen, [{"address": dead, "name": "dead"}],
                              pool={"health": {"check": "tcp", **FAST}}), ready=[listen])
    assert wait_state(proc, "dead", "down", 10) is not None, proc.describe()
    how, data = connect_expect_closed(listen, b"hello\n", timeout=2)
    assert data == b"" and how in ("eof", "reset")
    assert proc.wait_log(r"no backend is up", 5), proc.describe()
