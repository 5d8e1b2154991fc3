"""The tls check against real nginx with TLS (self-signed certificates made by the test): an
impostor that accepts TCP and echoes or closes is down, and no client connection reaches it,
while a plain tcp check lets clients there. A server without a certificate for the check's sni
is down with the alert it sent; a server speaking plain HTTP is down as not TLS, and one that
closes in the middle of its ServerHello as incomplete."""

from __future__ import annotations

import shutil

import pytest

from harness import free_port, simple_config, tcp_url
from health import CLIENT_MARK, Impostor, start_nginx, wait_state
from health_servers import FAST, EchoImpostor, https_get, start_nginx_tls

pytestmark = [pytest.mark.skipif(not shutil.which("nginx"), reason="no nginx"),
              pytest.mark.skipif(not shutil.which("openssl"), reason="no openssl")]

CLIENTS = 30
# Clients name this in their SNI, which travels in clear in the ClientHello: the impostors count
# the connections that carry it. nginx serves it from its only server all the same.
CLIENT_SNI = CLIENT_MARK.decode() + ".test"


def run_pair(l4lb, real_url: str, impostor, check: dict) -> tuple[int, object]:
    """l4lb in front of [real, impostor]; waits for both verdicts, then CLIENTS HTTPS requests.
    Returns (requests that failed, the l4lb process)."""
    listen = tcp_url(free_port())
    cfg = simple_config(listen, [{"address": real_url, "name": "real"},
                                 {"address": impostor.url, "name": "impostor"}],
                        pool={"health": {**FAST, "rise": 1, "fall": 1, **check}, "retries": 0})
    proc = l4lb(cfg, ready=[listen])
    assert wait_state(proc, "real", "up", 10) is not None, proc.describe()
    imp_state = "down" if check["check"] != "tcp" else "up"
    assert wait_state(proc, "impostor", imp_state, 10) is not None, proc.describe()
    failed = 0
    for _ in range(CLIENTS):
        try:
            assert https_get(listen, CLIENT_SNI) == b"real\n"
        except (OSError, AssertionError):
            failed += 1
    return failed, proc


@pytest.mark.parametrize("check", ["tls", "tcp"])
@pytest.mark.parametrize("kind", ["echo", "close"])
def test_tls_check_keeps_clients_off_an_impostor(l4lb, workdir, processes, check, kind):
    port = free_port()
    processes.append(start_nginx_tls(workdir, port, "backend.test", body="real"))
    impostor = EchoImpostor(tcp_url(free_port())) if kind == "echo" else \
        Impostor(tcp_url(free_port()))
    try:
        failed, proc = run_pair(l4lb, tcp_url(port), impostor,
                                {"check": check, **({"sni": "backend.test"} if check == "tls"
                                                    else {})})
    finally:
        impostor.stop()
    if check == "tls":
        assert impostor.client_hits == 0 and failed == 0, \
            f"{impostor.client_hits} clients reached the impostor, {failed} failed"
        reason = {"echo": "handshake message 1 (client_hello) instead of a ServerHello",
                  "close": "closed without replying"}[kind]
        assert f"impostor: unknown -> down (tls check: {reason})" in proc.stderr(), proc.stderr()
        assert "real: unknown -> up (tls check: ServerHello, TLS 1.3" in proc.stderr()
    else:
        assert impostor.client_hits > 0, "a plain tcp check should have let clients reach it"


@pytest.mark.parametrize("sni,state", [("backend.test", "up"), ("other.test", "down")])
def test_sni_without_a_certificate_is_down_with_the_alert(l4lb, workdir, processes, sni, state):
    port = free_port()
    processes.append(start_nginx_tls(workdir, port, "backend.test", reject_other_names=True))
    listen = tcp_url(free_port())
    proc = l4lb(simple_config(listen, [{"address": tcp_url(port), "name": "web"}],
                              pool={"health": {"check": "tls", "sni": sni, **FAST}}),
                ready=[listen])
    assert wait_state(proc, "web", state, 10) is not None, proc.describe()
    if state == "down":
        assert "(tls check: alert 112 unrecognized_name)" in proc.stderr(), proc.stderr()


def test_plain_http_server_is_not_tls(l4lb, workdir, processes):
    port = free_port()
    processes.append(start_nginx(workdir, port))
    listen = tcp_url(free_port())
    proc = l4lb(simple_config(listen, [{"address": tcp_url(port), "name": "web"}],
                              pool={"health": {"check": "tls", **FAST}}), ready=[listen])
    assert wait_state(proc, "web", "down", 10) is not None, proc.describe()
    assert "(tls check: not TLS: the reply starts \"HTTP/1.1 400" in proc.stderr(), proc.stderr()


@pytest.mark.parametrize("reply,reason", [
    # The first 22 bytes of a ServerHello (openssl s_server's), then the connection closed.
    (bytes.fromhex("160303007a020000760303894f7640db777200158ca8"),
     "closed after 22 bytes of an incomplete reply"),
    (bytes.fromhex("15030300020228"), "alert 40 handshake_failure"),
])
def test_truncated_server_hello_or_alert_is_down(l4lb, workdir, processes, reply, reason):
    impostor = Impostor(tcp_url(free_port()), reply=reply)
    listen = tcp_url(free_port())
    try:
        proc = l4lb(simple_config(listen, [{"address": impostor.url, "name": "web"}],
                                  pool={"health": {"check": "tls", **FAST}}), ready=[listen])
        assert wait_state(proc, "web", "down", 10) is not None, proc.describe()
        assert f"(tls check: {reason})" in proc.stderr(), proc.stderr()
    finally:
        impostor.stop()
