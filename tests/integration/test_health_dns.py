"""The dns check of UDP pools, against a real unbound: an impostor that answers REFUSED or
garbage, or never answers, is down, and no client flow reaches it; without a check some do. A
backend port that nothing listens on is down at the first check, by its ICMP refusal. A flow
whose backend is marked down moves to one that is up."""

from __future__ import annotations

import shutil
import socket

import pytest

from harness import config_toml, free_udp_port, start_unbound, udp_url
from health import wait_state
from health_servers import FAST, DnsImpostor, dns_ask, dns_query, rcode

pytestmark = pytest.mark.skipif(not shutil.which("unbound"), reason="no unbound")

RECORDS = {"a.test.": "192.0.2.1", "client.test.": "192.0.2.2"}
CLIENTS = 30


def udp_pool_config(listen: int, backends: list[tuple[str, str]], health: dict | None) -> str:
    pool = {"balance": "round-robin", "retries": 0,
            "backends": [{"address": url, "name": name} for name, url in backends]}
    if health is not None:
        pool["health"] = health
    return config_toml([{"name": "dns", "bind": udp_url(listen), "pool": "dns"}], {"dns": pool},
                       {"workers": 1})


DNS_CHECK = {"check": "dns", "name": "a.test.", "type": "A", "rise": 1, "fall": 1, **FAST}


@pytest.mark.parametrize("mode", ["refused", "garbage", "silent"])
@pytest.mark.parametrize("check", ["dns", None])
def test_dns_check_keeps_flows_off_an_impostor(l4lb, workdir, processes, mode, check):
    port = free_udp_port()
    processes.append(start_unbound(workdir, port, RECORDS))
    impostor = DnsImpostor(mode)
    listen = free_udp_port()
    try:
        proc = l4lb(udp_pool_config(listen, [("real", udp_url(port)), ("impostor", impostor.url)],
                                    DNS_CHECK if check else None), ready=[udp_url(listen)])
        if check:
            assert wait_state(proc, "real", "up", 10) is not None, proc.describe()
            assert wait_state(proc, "impostor", "down", 10) is not None, proc.describe()
        answered = 0
        for _ in range(CLIENTS):
            try:
                reply = dns_ask("127.0.0.1", listen, "client.test", tries=1, wait=0.5)
                answered += rcode(reply) == 0
            except OSError:
                pass
    finally:
        impostor.stop()
    if check:
        assert impostor.client_hits == 0, f"{impostor.client_hits} client flows reached it"
        assert answered == CLIENTS, f"{CLIENTS - answered} queries unanswered or failed"
        reason = {"refused": "rcode REFUSED", "garbage": "not DNS",
                  "silent": "timed out after 300 ms waiting for a reply)"}[mode]
        assert f"impostor: unknown -> down (dns check: {reason}" in proc.stderr(), proc.stderr()
    else:
        assert impostor.client_hits > 0, "without a check, round-robin should send flows there"


def test_closed_port_is_down_by_icmp(l4lb, workdir, processes):
    port = free_udp_port()
    processes.append(start_unbound(workdir, port, RECORDS))
    closed = free_udp_port()
    listen = free_udp_port()
    proc = l4lb(udp_pool_config(listen, [("real", udp_url(port)), ("closed", udp_url(closed))],
                                {**DNS_CHECK, "timeout": "5s"}), ready=[udp_url(listen)])
    assert wait_state(proc, "closed", "down", 10) is not None, proc.describe()
    assert "closed: unknown -> down (dns check: connection refused)" in proc.stderr()


def test_nxdomain_is_down_with_its_rcode(l4lb, workdir, processes):
    port = free_udp_port()
    processes.append(start_unbound(workdir, port, RECORDS))
    listen = free_udp_port()
    proc = l4lb(udp_pool_config(listen, [("real", udp_url(port))],
                                {**DNS_CHECK, "name": "missing.test"}), ready=[udp_url(listen)])
    assert wait_state(proc, "real", "down", 10) is not None, proc.describe()
    assert "(dns check: rcode NXDOMAIN)" in proc.stderr()


def test_flow_leaves_a_backend_that_goes_down(l4lb, workdir, processes):
    """A client that keeps its socket is one flow for as long as it sends. When its backend
    falls silent (no ICMP refusal, so nothing on the data path notices), the dns check marks it
    down, and the flow's next queries go to the backend that is up."""
    port = free_udp_port()
    processes.append(start_unbound(workdir, port, RECORDS))
    fading = DnsImpostor("noerror")
    listen = free_udp_port()
    try:
        # "first": the flow starts on the backend that will fall silent.
        pool_cfg = udp_pool_config(listen, [("fading", fading.url), ("real", udp_url(port))],
                                   DNS_CHECK).replace('"round-robin"', '"first"')
        proc = l4lb(pool_cfg, ready=[udp_url(listen)])
        for name in ("fading", "real"):
            assert wait_state(proc, name, "up", 10) is not None, proc.describe()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(0.5)
            s.connect(("127.0.0.1", listen))
            s.send(dns_query("client.test", 1, 1))
            assert rcode(s.recv(4096)) == 0
            assert fading.client_hits == 1
            fading.mode = "silent"
            assert wait_state(proc, "fading", "down", 10) is not None, proc.describe()
            answers = []
            for qid in range(2, 40):  # bounded: a query a quarter second
                s.send(dns_query("client.test", 1, qid))
                try:
                    reply = s.recv(4096)
                except socket.timeout:
                    continue
                answers.append(reply)
                if len(answers) == 3:
                    break
            assert len(answers) == 3, "the flow stayed on the silent backend"
            # unbound's answer carries the record (the impostor's has none).
            assert all(bytes([192, 0, 2, 2]) in a and rcode(a) == 0 for a in answers), answers
    finally:
        fading.stop()
