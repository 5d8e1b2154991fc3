"""The dns check of UDP pools, against a real unbound: an impostor that answers REFUSED or
garbage, or never answers, is down, and no client flow reaches it; without a check some do. A
backend port that nothing listens on is down at the first check, by its ICMP refusal."""

from __future__ import annotations

import shutil

import pytest

from harness import config_toml, free_udp_port, start_unbound, udp_url
from health import wait_state
from health_servers import FAST, DnsImpostor, dns_ask, rcode

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
