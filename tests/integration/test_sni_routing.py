"""TLS routing without decryption: l4lb reads the ClientHello's server_name and ALPN, picks the
pool of the first matching route, and forwards every byte unchanged, so the handshake is the
client's with the real server: curl verifies each nginx's own certificate through l4lb.

Real peers: three nginx TLS servers with certificates for different names, curl --resolve and
openssl s_client as clients, and a Python client that cuts its ClientHello into 1-byte
segments."""

from __future__ import annotations

import re
import shutil
import socket
import ssl
import subprocess
import time
from pathlib import Path

import pytest

from harness import config_toml, connect, free_port, recv_exact, recv_line, tcp_url
from health_servers import make_cert, start_nginx_tls

pytestmark = pytest.mark.skipif(shutil.which("nginx") is None or shutil.which("openssl") is None,
                                reason="nginx or openssl not installed")

NAMES = {"api": "api.example.com", "web": "www.example.com", "h2": "h2.example.net",
         "default": "default.example.org"}


def der(cert: Path) -> bytes:
    return subprocess.run(["openssl", "x509", "-in", str(cert), "-outform", "DER"],
                          capture_output=True, check=True, timeout=20).stdout


@pytest.fixture
def tls_servers(workdir, processes):
    """One nginx per pool, each with a certificate for its own name; {pool: (port, cert)}."""
    servers = {}
    for pool, name in NAMES.items():
        port = free_port()
        processes.append(start_nginx_tls(workdir, port, name, body=pool))
        servers[pool] = (port, make_cert(workdir, name)[0])
    return servers


def routing_config(listen: str, servers: dict, listener: dict | None = None,
                   default_backend: str | None = None) -> str:
    lst = {"name": "tls", "bind": listen, "pool": "default",
           "routes": [{"sni": "api.example.com", "pool": "api"},
                      {"sni": "*.example.com", "pool": "web"},
                      {"alpn": "h2", "pool": "h2"}],
           **(listener or {})}
    pools = {pool: {"backends": [{"address": tcp_url(port)}]}
             for pool, (port, _) in servers.items()}
    if default_backend is not None:
        pools["default"] = {"backends": [{"address": default_backend}]}
    return config_toml([lst], pools)


def curl_https(port: int, name: str, cacert: Path) -> str:
    out = subprocess.run(["curl", "-sS", "--max-time", "10", "--http1.1", "--resolve",
                          f"{name}:{port}:127.0.0.1", "--cacert", str(cacert),
                          f"https://{name}:{port}/"], capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    return out.stdout.strip()


def s_client_subject(port: int, args: list[str]) -> str:
    """The subject of the certificate openssl s_client was shown through l4lb."""
    out = subprocess.run(["openssl", "s_client", "-connect", f"127.0.0.1:{port}", *args],
                         input="", capture_output=True, text=True, timeout=20)
    match = re.search(r"^subject=(.*)$", out.stdout, re.M)
    assert match, out.stdout + out.stderr
    return match.group(1)


def test_curl_reaches_the_server_its_name_routes_to(l4lb, tls_servers):
    port = free_port()
    listen = tcp_url(port)
    l4lb(routing_config(listen, tls_servers), ready=[listen])
    # Verified against each server's own certificate: l4lb passed the handshake through.
    assert curl_https(port, "api.example.com", tls_servers["api"][1]) == "api"
    assert curl_https(port, "www.example.com", tls_servers["web"][1]) == "web"
    assert curl_https(port, "default.example.org", tls_servers["default"][1]) == "default"


def test_s_client_wildcard_alpn_and_no_name(l4lb, tls_servers):
    port = free_port()
    listen = tcp_url(port)
    proc = l4lb(routing_config(listen, tls_servers), ready=[listen])
    assert "CN = www.example.com" in s_client_subject(port, ["-servername", "a.b.example.com"])
    # "*.example.com" is below example.com only: example.com itself falls through.
    assert "CN = default.example.org" in s_client_subject(port, ["-servername", "example.com"])
    assert "CN = h2.example.net" in s_client_subject(port, ["-servername", "other.test",
                                                            "-alpn", "h2,http/1.1"])
    # The first match wins: the name routes before the ALPN route is looked at.
    assert "CN = api.example.com" in s_client_subject(port, ["-servername", "api.example.com",
                                                             "-alpn", "h2,http/1.1"])
    assert "CN = default.example.org" in s_client_subject(port, ["-noservername"])
    assert proc.stop() == 0
    assert re.search(r"\b3 routed by their ClientHello", proc.stderr()), proc.stderr()


def split_hello_request(port: int, name: str, piece: int) -> tuple[bytes, bytes]:
    """HTTPS GET through l4lb with the ClientHello sent `piece` bytes per segment (TCP_NODELAY,
    a pause between). Returns (the server's certificate, the response body)."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = ctx.wrap_bio(incoming, outgoing, server_hostname=name)
    with socket.create_connection(("127.0.0.1", port), timeout=10) as s:
        s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        first = True
        for _ in range(100):  # a handshake takes a few round trips
            try:
                tls.do_handshake()
                break
            except ssl.SSLWantReadError:
                pass
            data = outgoing.read()
            if first:  # the ClientHello
                for i in range(0, len(data), piece):
                    s.sendall(data[i:i + piece])
                    time.sleep(0.002)
                first = False
            elif data:
                s.sendall(data)
            chunk = s.recv(65536)
            assert chunk, "closed during the handshake"
            incoming.write(chunk)
        s.sendall(outgoing.read())
        tls.write(f"GET / HTTP/1.0\r\nHost: {name}\r\n\r\n".encode())
        s.sendall(outgoing.read())
        response = b""
        for _ in range(10000):  # bounded: each pass reads or ends
            try:
                data = tls.read(65536)
                if not data:  # close_notify
                    break
                response += data
            except ssl.SSLWantReadError:
                chunk = s.recv(65536)
                if not chunk:
                    break
                incoming.write(chunk)
            except (ssl.SSLZeroReturnError, ssl.SSLEOFError):
                break
        return tls.getpeercert(binary_form=True), response.partition(b"\r\n\r\n")[2]


@pytest.mark.parametrize("piece", [1, 7, 100])
def test_client_hello_cut_into_small_segments(l4lb, tls_servers, piece):
    port = free_port()
    listen = tcp_url(port)
    l4lb(routing_config(listen, tls_servers), ready=[listen])
    cert, body = split_hello_request(port, "api.example.com", piece)
    assert cert == der(tls_servers["api"][1])
    assert body == b"api\n"


def test_not_tls_goes_to_the_default_pool_unchanged(l4lb, servers, tls_servers):
    plain = servers(tcp_url(free_port()), name="plain")
    port = free_port()
    listen = tcp_url(port)
    proc = l4lb(routing_config(listen, tls_servers, default_backend=plain.url), ready=[listen])
    with connect(listen) as s:
        s.sendall(b"hello, no TLS here\n")
        assert recv_line(s) == b"plain\n"
        assert recv_exact(s, 19) == b"hello, no TLS here\n"
    assert proc.stop() == 0
    assert re.search(r"\b1 not TLS on routing listeners", proc.stderr()), proc.stderr()


def test_tls_required_closes_what_is_not_tls(l4lb, servers, tls_servers):
    plain = servers(tcp_url(free_port()), name="plain")
    port = free_port()
    listen = tcp_url(port)
    proc = l4lb(routing_config(listen, tls_servers, listener={"tls_required": True},
                               default_backend=plain.url), ready=[listen])
    with connect(listen) as s:
        s.sendall(b"GET / HTTP/1.0\r\n\r\n")
        try:
            data = s.recv(100)
        except ConnectionResetError:
            data = b""
        assert data == b""
    # TLS still works beside it.
    assert curl_https(port, "api.example.com", tls_servers["api"][1]) == "api"
    assert plain.accepted == 0
    assert proc.stop() == 0
    assert re.search(r"ended by reason:.* not-tls=1\b", proc.stderr()), proc.stderr()
    assert "not a TLS ClientHello" in proc.stderr()


def test_hello_that_never_completes_times_out(l4lb, tls_servers):
    port = free_port()
    listen = tcp_url(port)
    proc = l4lb(routing_config(listen, tls_servers, listener={"inspect_timeout": "300ms"}),
                ready=[listen])
    with connect(listen) as s:
        s.sendall(b"\x16\x03\x01\x02\x00\x01")  # a handshake record that stops short
        s.settimeout(10)
        try:
            data = s.recv(100)
        except ConnectionResetError:
            data = b""
        assert data == b""
    assert proc.stop() == 0
    assert re.search(r"ended by reason:.* inspect-timeout=1\b", proc.stderr()), proc.stderr()
