"""proxy_protocol = "accept": a trusted proxy in front of l4lb names the client in a PROXY
header, and that client is the client for everything after: send_proxy towards the backend,
allow/deny, the access log.

A real HAProxy (`send-proxy` and `send-proxy-v2`) sits in front, curl runs from 127.0.0.2 so
its address differs from HAProxy's (127.0.0.1), and a real nginx behind l4lb (`listen ...
proxy_protocol`) reports the address and port it read from l4lb's header."""

from __future__ import annotations

import re
import shutil
import socket
import struct
import subprocess
import time
from pathlib import Path

import pytest

from harness import (Process, connect, free_port, json_records, recv_exact, simple_config,
                     tcp_url, wait_tcp_listening, wait_until)
from test_proxy_protocol import V2_SIGNATURE, start_nginx

pytestmark = pytest.mark.skipif(shutil.which("haproxy") is None or shutil.which("nginx") is None,
                                reason="haproxy or nginx not installed")

CLIENT_IP = "127.0.0.2"


def start_haproxy(workdir: Path, port: int, target_port: int, send: str,
                  name: str = "haproxy") -> Process:
    """HAProxy in TCP mode on 127.0.0.1:`port`, one server (l4lb) with `send` (send-proxy...)."""
    d = workdir / name
    d.mkdir()
    conf = d / "haproxy.cfg"
    conf.write_text(f"""
global
  maxconn 100
defaults
  mode tcp
  timeout connect 5s
  timeout client 30s
  timeout server 30s
frontend front
  bind 127.0.0.1:{port}
  default_backend l4lb
backend l4lb
  server l4lb 127.0.0.1:{target_port} {send}
""")
    proc = Process(["haproxy", "-db", "-f", str(conf)], workdir, name)
    try:
        wait_tcp_listening(port)
    except AssertionError:
        proc.stop()
        raise AssertionError("haproxy did not start:\n" + proc.log())
    return proc


def curl_from(source: str, port: int) -> tuple[str, str]:
    """GET http://127.0.0.1:`port`/ from `source`; (the body, curl's own "ip port")."""
    out = subprocess.run(
        ["curl", "-sS", "--max-time", "10", "--interface", source, "-w",
         "\n%{local_ip} %{local_port}", f"http://127.0.0.1:{port}/"],
        capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    body, _, local = out.stdout.rpartition("\n")
    return body, local


def accepting(listen: str, backends: list[str], trusted: list[str], listener: dict | None = None,
              pool: dict | None = None, global_: dict | None = None) -> str:
    return simple_config(listen, backends,
                         listener={"proxy_protocol": "accept", "proxy_trusted": trusted,
                                   "proxy_timeout": "1s", **(listener or {})},
                         pool=pool, global_=global_)


@pytest.mark.parametrize("send", ["send-proxy", "send-proxy-v2"])
def test_haproxy_client_address_reaches_nginx_through_l4lb(l4lb, processes, workdir, send):
    nginx_port, l4lb_port, haproxy_port = free_port(), free_port(), free_port()
    processes.append(start_nginx(workdir, nginx_port))
    listen = tcp_url(l4lb_port)
    log = workdir / "access.log"
    l4lb(accepting(listen, [tcp_url(nginx_port)], ["127.0.0.1/32"],
                   pool={"send_proxy": "v2"}, global_={"access_log": str(log)}),
         ready=[listen])
    processes.append(start_haproxy(workdir, haproxy_port, l4lb_port, send))
    seen = []
    for _ in range(3):
        body, local = curl_from(CLIENT_IP, haproxy_port)
        assert body == local, (body, local)  # nginx saw curl itself, not HAProxy or l4lb
        assert body.startswith(CLIENT_IP + " ")
        seen.append(local)
    # The access log names the header's client too, and counts no header byte. (HAProxy also
    # passed on the test's own probe of its port, from 127.0.0.1.)
    def curl_records():
        if not log.exists():
            return []
        return [r for r in json_records(log.read_text()) if r["client"].startswith(CLIENT_IP)]

    assert wait_until(lambda: len(curl_records()) >= 3, 10)
    records = curl_records()
    assert [r["client"] for r in records] == [f"{ip}:{port}" for ip, port in
                                              (x.split() for x in seen)]
    for r in records:
        assert r["end"] == "completed" and r["bytes_in"] > 0, r


def test_untrusted_source_is_refused_and_counted(l4lb, servers, workdir):
    backend = servers(tcp_url(free_port()), name="b")
    listen = tcp_url(free_port())
    proc = l4lb(accepting(listen, [backend.url], ["127.0.0.1/32"]), ready=[listen])
    try:
        with socket.create_connection(("127.0.0.1", int(listen.rsplit(":", 1)[1])), timeout=5,
                                      source_address=(CLIENT_IP, 0)) as s:
            s.sendall(b"PROXY TCP4 192.0.2.9 127.0.0.1 1234 80\r\nhello\n")
            data = s.recv(100)
    except ConnectionResetError:
        data = b""
    assert data == b""  # closed without a byte from any backend
    assert backend.accepted == 0
    assert proc.stop() == 0
    assert "1 PROXY connections from untrusted sources" in proc.stderr()


@pytest.mark.parametrize("garbage", [
    b"GET / HTTP/1.0\r\n\r\n",                     # no header at all
    b"PROXY TCP4 not-an-address 127.0.0.1 1 2\r\n",  # v1, broken
    V2_SIGNATURE + b"\x21\x11\x00\x0c" + b"\x7f\x00\x00\x01" * 2 + b"\x00\x01",  # v2, cut short
])
def test_malformed_header_closes_that_connection_only(l4lb, servers, garbage):
    backend = servers(tcp_url(free_port()), name="b")
    listen = tcp_url(free_port())
    proc = l4lb(accepting(listen, [backend.url], ["127.0.0.1/32"]), ready=[listen])
    with connect(listen) as good:
        # A good connection opened first, still working after the bad one is closed.
        good.sendall(b"PROXY TCP4 198.51.100.7 127.0.0.1 4000 80\r\n")
        assert recv_exact(good, 2) == b"b\n"
        with connect(listen) as bad:
            bad.sendall(garbage)
            if garbage.startswith(V2_SIGNATURE):
                bad.shutdown(socket.SHUT_WR)  # the header ends early: the client gave up
            try:
                data = bad.recv(100)
            except ConnectionResetError:
                data = b""
            assert data == b""
        good.sendall(b"still here\n")
        assert recv_exact(good, 11) == b"still here\n"
    assert backend.accepted == 1
    assert proc.stop() == 0
    assert re.search(r"ended by reason:.* bad-proxy-header=1\b", proc.stderr()), proc.stderr()
    assert "bad PROXY header" in proc.stderr()


def test_header_that_never_completes_times_out(l4lb, servers):
    backend = servers(tcp_url(free_port()), name="b")
    listen = tcp_url(free_port())
    proc = l4lb(accepting(listen, [backend.url], ["127.0.0.1/32"],
                          listener={"proxy_timeout": "300ms"}), ready=[listen])
    with connect(listen) as slow:
        slow.sendall(b"PROXY TCP4 198.51.100.7 ")
        slow.settimeout(10)
        started = time.monotonic()
        try:
            data = slow.recv(100)
        except ConnectionResetError:
            data = b""
        assert data == b""
        assert time.monotonic() - started < 9  # closed by l4lb, not by the test's timeout
    assert backend.accepted == 0
    assert proc.stop() == 0
    assert re.search(r"ended by reason:.* proxy-timeout=1\b", proc.stderr()), proc.stderr()


def test_allow_deny_judge_the_address_in_the_header(l4lb, processes, servers, workdir):
    backend = servers(tcp_url(free_port()), name="b")
    l4lb_port, haproxy_port = free_port(), free_port()
    listen = tcp_url(l4lb_port)
    proc = l4lb(accepting(listen, [backend.url], ["127.0.0.1/32"],
                          listener={"deny": [f"{CLIENT_IP}/32"]}), ready=[listen])
    processes.append(start_haproxy(workdir, haproxy_port, l4lb_port, "send-proxy-v2"))

    def ask(source: str) -> bytes:
        with socket.create_connection(("127.0.0.1", haproxy_port), timeout=5,
                                      source_address=(source, 0)) as s:
            try:
                return s.recv(100)
            except ConnectionResetError:
                return b""

    # The backend answers its name at once, so an empty reply is a connection l4lb refused.
    # (Not counted at the backend: start_haproxy's probe may or may not reach it, as HAProxy
    # drops its server connection when the probe closes first.)
    assert ask(CLIENT_IP) == b""      # denied by the header's address
    assert ask("127.0.0.3") == b"b\n"  # HAProxy's own address (127.0.0.1) is not what counts
    assert proc.stop() == 0
    assert "refused: 1 by allow/deny" in proc.stderr()


def test_v2_tlvs_are_passed_on(l4lb, processes, servers, workdir):
    # HAProxy adds a UNIQUE_ID TLV; l4lb's own v2 header to the backend carries it on.
    received: list[bytes] = []

    def read_header(conn: socket.socket, server) -> None:
        start = recv_exact(conn, 16)
        (length,) = struct.unpack("!H", start[14:16])
        received.append(start + recv_exact(conn, length))
        conn.sendall(b"ok\n")

    backend = servers(tcp_url(free_port()), handler=read_header)
    l4lb_port, haproxy_port = free_port(), free_port()
    listen = tcp_url(l4lb_port)
    l4lb(accepting(listen, [backend.url], ["127.0.0.1/32"], pool={"send_proxy": "v2"}),
         ready=[listen])
    d = workdir / "haproxy"
    processes.append(start_haproxy(workdir, haproxy_port, l4lb_port,
                                   "send-proxy-v2 proxy-v2-options unique-id"))
    (d / "haproxy.cfg").write_text((d / "haproxy.cfg").read_text().replace(
        "frontend front\n", "frontend front\n  unique-id-format l4lb-test-%[rand]\n"))
    processes[-1].stop()
    processes.append(Process(["haproxy", "-db", "-f", str(d / "haproxy.cfg")], workdir,
                             "haproxy2"))
    wait_tcp_listening(haproxy_port)
    with socket.create_connection(("127.0.0.1", haproxy_port), timeout=5,
                                  source_address=(CLIENT_IP, 0)) as s:
        assert recv_exact(s, 3) == b"ok\n"
        client_port = s.getsockname()[1]
    # The test's own probe of HAProxy's port came through too (from 127.0.0.1), in any order.
    assert wait_until(lambda: any(h[16:20] == socket.inet_aton(CLIENT_IP) for h in received), 10)
    header = next(h for h in received if h[16:20] == socket.inet_aton(CLIENT_IP))
    assert header[:12] == V2_SIGNATURE and header[13] == 0x11
    src_ip, _, src_port, _ = struct.unpack("!4s4sHH", header[16:28])
    assert (socket.inet_ntoa(src_ip), src_port) == (CLIENT_IP, client_port)
    tlvs = header[28:]
    found = {}
    while len(tlvs) >= 3:
        kind, length = tlvs[0], struct.unpack("!H", tlvs[1:3])[0]
        found[kind] = tlvs[3:3 + length]
        tlvs = tlvs[3 + length:]
    assert found.get(0x05, b"").startswith(b"l4lb-test-"), found
