"""Stopping a real server marks it down within fall x interval (+ timeout), starting it again
marks it up within rise x interval (+ timeout), and clients of the two-backend pool see no
failure meanwhile: nginx (http check), memcached, nginx with TLS (tls check), and unbound (dns
check, a UDP pool). The redis version is in test_health_states.py."""

from __future__ import annotations

import shutil
import signal

import pytest

from harness import (config_toml, connect, free_port, free_udp_port, recv_line, simple_config,
                     start_unbound, tcp_url, udp_url)
from health import start_memcached, start_nginx
from health_servers import FAST, dns_ask, https_get, rcode, start_nginx_tls, stop_start_scenario

RISE, FALL = 2, 2
# A connection the server took (or the kernel queued for it) in the instant before it exited is
# closed or reset before any answer: l4lb sends it, with the bytes the client sent, to the other
# backend.
RETRY_ON = ["conn-failure", "empty-response"]


def stream_pool(listen: str, ports: list[int], name: str, check: dict) -> str:
    return simple_config(listen, [{"address": tcp_url(p), "name": f"{name}{i}"}
                                  for i, p in enumerate(ports)],
                         pool={"health": {**check, **FAST, "rise": RISE, "fall": FALL},
                               "retries": 2, "retry_on": RETRY_ON})


def assert_no_failures(clients) -> None:
    assert not clients.failures, f"{len(clients.failures)} failed: {clients.failures[:5]}"


@pytest.mark.skipif(not shutil.which("nginx"), reason="no nginx")
def test_stopped_nginx_marked_down_then_up_without_client_failures(l4lb, workdir, processes):
    ports = [free_port(), free_port()]
    servers = [start_nginx(workdir, p) for p in ports]
    processes.extend(servers)
    listen = tcp_url(free_port())
    proc = l4lb(stream_pool(listen, ports, "web", {"check": "http"}), ready=[listen])

    def get():
        with connect(listen) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: x\r\n\r\n")
            line = recv_line(s)
            assert line.startswith(b"HTTP/1.1 200"), line

    # SIGQUIT is nginx's graceful stop (`nginx -s quit`): requests it took are answered.
    clients = stop_start_scenario(
        proc, ("web0", "web1"), get, lambda: servers[0].stop(signal.SIGQUIT),
        lambda: processes.append(start_nginx(workdir, ports[0])), "http", RISE, FALL)
    assert_no_failures(clients)


@pytest.mark.skipif(not shutil.which("memcached"), reason="no memcached")
def test_stopped_memcached_marked_down_then_up_without_client_failures(l4lb, workdir, processes):
    ports = [free_port(), free_port()]
    servers = [start_memcached(workdir, p) for p in ports]
    processes.extend(servers)
    listen = tcp_url(free_port())
    proc = l4lb(stream_pool(listen, ports, "mc", {"check": "memcached"}), ready=[listen])

    def version():
        with connect(listen) as s:
            s.sendall(b"version\r\n")
            line = recv_line(s)
            assert line.startswith(b"VERSION "), line

    clients = stop_start_scenario(
        proc, ("mc0", "mc1"), version, servers[0].stop,
        lambda: processes.append(start_memcached(workdir, ports[0])), "memcached", RISE, FALL)
    assert_no_failures(clients)


@pytest.mark.skipif(not shutil.which("nginx") or not shutil.which("openssl"),
                    reason="no nginx or openssl")
def test_stopped_tls_server_marked_down_then_up_without_client_failures(l4lb, workdir,
                                                                        processes):
    ports = [free_port(), free_port()]
    servers = [start_nginx_tls(workdir, p, "backend.test") for p in ports]
    processes.extend(servers)
    listen = tcp_url(free_port())
    proc = l4lb(stream_pool(listen, ports, "tls", {"check": "tls", "sni": "backend.test"}),
                ready=[listen])

    def get():
        assert https_get(listen, "backend.test") == b"tls\n"

    # Gracefully (SIGQUIT): a fast stop would cut handshakes it had already answered, which
    # no balancer can carry elsewhere.
    clients = stop_start_scenario(
        proc, ("tls0", "tls1"), get, lambda: servers[0].stop(signal.SIGQUIT),
        lambda: processes.append(start_nginx_tls(workdir, ports[0], "backend.test")), "tls",
        RISE, FALL)
    assert_no_failures(clients)


@pytest.mark.skipif(not shutil.which("unbound"), reason="no unbound")
def test_stopped_unbound_marked_down_then_up_without_client_failures(l4lb, workdir, processes):
    """Each query is a new flow (a fresh client socket). A flow that went to the stopped server
    before the check noticed is moved by its ICMP refusal, and the client's retry (a stub
    resolver's, after a second) is answered by the other server: no query goes unanswered."""
    records = {"a.test.": "192.0.2.1"}
    ports = [free_udp_port(), free_udp_port()]
    servers = [start_unbound(workdir, p, records, name=f"unbound-{p}") for p in ports]
    processes.extend(servers)
    listen = free_udp_port()
    pool = {"balance": "round-robin", "retries": 2,
            "health": {"check": "dns", "name": "a.test", "type": "A", **FAST, "rise": RISE,
                       "fall": FALL},
            "backends": [{"address": udp_url(p), "name": f"dns{i}"} for i, p in enumerate(ports)]}
    proc = l4lb(config_toml([{"name": "dns", "bind": udp_url(listen), "pool": "dns"}],
                            {"dns": pool}, {"workers": 1}), ready=[udp_url(listen)])

    def ask():
        reply = dns_ask("127.0.0.1", listen, "a.test", tries=3, wait=1.0)
        assert rcode(reply) == 0, reply

    clients = stop_start_scenario(
        proc, ("dns0", "dns1"), ask, servers[0].stop,
        lambda: processes.append(start_unbound(workdir, ports[0], records,
                                               name=f"unbound-{ports[0]}")), "dns", RISE, FALL)
    assert not clients.failures, f"{len(clients.failures)} failed: {clients.failures[:5]}"
