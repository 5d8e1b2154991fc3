"""send_proxy: each backend connection starts with a PROXY protocol header naming the client.

The receiving end is a real nginx (`listen ... proxy_protocol`) answering with the address and
port it read from the header; curl through l4lb must get its own source address and port back,
for v1 and v2, over IPv4 and IPv6. A Unix listener's v2 header (AF_UNIX, which nginx does not
report) is checked byte by byte by a Python backend."""

from __future__ import annotations

import shutil
import socket
import struct
import subprocess
from pathlib import Path

import pytest

from harness import (Process, connect, free_port, ipv6_loopback_available, recv_exact,
                     simple_config, tcp_url, wait_tcp_listening)

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"

pytestmark = pytest.mark.skipif(shutil.which("nginx") is None and
                                not Path("/usr/sbin/nginx").exists(),
                                reason="nginx not installed")


def nginx_binary() -> str:
    return shutil.which("nginx") or "/usr/sbin/nginx"


def start_nginx(workdir: Path, port: int) -> Process:
    """nginx in the foreground, all of its files in the test's directory, one server that
    answers every request with "$proxy_protocol_addr $proxy_protocol_port"."""
    prefix = workdir / "nginx"
    prefix.mkdir()
    conf = prefix / "nginx.conf"
    conf.write_text(f"""
daemon off;
master_process off;
worker_processes 1;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log info;
events {{ worker_connections 64; }}
http {{
  access_log off;
  client_body_temp_path {prefix}/body;
  proxy_temp_path {prefix}/proxy;
  fastcgi_temp_path {prefix}/fastcgi;
  uwsgi_temp_path {prefix}/uwsgi;
  scgi_temp_path {prefix}/scgi;
  server {{
    listen 127.0.0.1:{port} proxy_protocol;
    location / {{
      default_type text/plain;
      return 200 "$proxy_protocol_addr $proxy_protocol_port";
    }}
  }}
}}
""")
    proc = Process([nginx_binary(), "-p", str(prefix), "-c", str(conf)], workdir, "nginx")
    try:
        wait_tcp_listening(port)
    except AssertionError:
        proc.stop()
        raise AssertionError("nginx did not start:\n" + proc.log())
    return proc


def curl_through(host: str, port: int) -> tuple[str, str]:
    """GET through l4lb; returns (what nginx saw in the header, curl's own "ip port")."""
    url_host = f"[{host}]" if ":" in host else host
    out = subprocess.run(
        ["curl", "-sS", "--max-time", "10", "-w", "\n%{local_ip} %{local_port}",
         f"http://{url_host}:{port}/"], capture_output=True, text=True, timeout=20)
    assert out.returncode == 0, out.stderr
    seen, _, local = out.stdout.rpartition("\n")
    return seen, local


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_nginx_sees_the_client_address_ipv4(l4lb, processes, workdir, version):
    nginx_port = free_port()
    processes.append(start_nginx(workdir, nginx_port))
    listen_port = free_port()
    listen = tcp_url(listen_port)
    l4lb(simple_config(listen, [tcp_url(nginx_port)], pool={"send_proxy": version}),
         ready=[listen])
    for _ in range(3):
        seen, local = curl_through("127.0.0.1", listen_port)
        assert seen == local


@pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback")
@pytest.mark.parametrize("version", ["v1", "v2"])
def test_nginx_sees_the_client_address_ipv6(l4lb, processes, workdir, version):
    nginx_port = free_port()
    processes.append(start_nginx(workdir, nginx_port))
    listen_port = free_port("::1")
    listen = tcp_url(listen_port, "::1")
    l4lb(simple_config(listen, [tcp_url(nginx_port)], pool={"send_proxy": version}),
         ready=[listen])
    seen, local = curl_through("::1", listen_port)
    assert seen == local
    assert seen.startswith("::1 ")


def header_echo(conn: socket.socket, server) -> None:
    """Reads a v1 or v2 header and sends it back, then echoes what follows once."""
    start = recv_exact(conn, 16)
    if start.startswith(b"PROXY "):
        header = start
        while not header.endswith(b"\r\n") and len(header) < 107:
            header += recv_exact(conn, 1)
    else:
        (length,) = struct.unpack("!H", start[14:16])
        header = start + recv_exact(conn, length)
    conn.sendall(header)
    conn.sendall(conn.recv(4096))


def test_unix_listener_sends_v2_af_unix(l4lb, servers, workdir):
    backend = servers(tcp_url(free_port()), handler=header_echo)
    listen_path = workdir / "front.sock"
    listen = f"unix://{listen_path}"
    l4lb(simple_config(listen, [backend.url], pool={"send_proxy": "v2"}), ready=[listen])
    with connect(listen) as s:
        header = recv_exact(s, 16 + 216)
        s.sendall(b"payload after the header\n")
        assert recv_exact(s, 25) == b"payload after the header\n"
    assert header[:12] == V2_SIGNATURE
    assert header[12] == 0x21  # version 2, PROXY
    assert header[13] == 0x31  # AF_UNIX, STREAM
    assert struct.unpack("!H", header[14:16])[0] == 216
    source, destination = header[16:124], header[124:232]
    assert source == b"\0" * 108  # the client is an unnamed socket
    assert destination.rstrip(b"\0") == str(listen_path).encode()


def test_header_is_sent_before_any_client_byte_even_when_client_talks_first(l4lb, servers):
    """The header leads even when the client's bytes are already waiting at connect time."""
    backend = servers(tcp_url(free_port()), handler=header_echo)
    listen = tcp_url(free_port())
    l4lb(simple_config(listen, [backend.url], pool={"send_proxy": "v2"}), ready=[listen])
    with connect(listen) as s:
        s.sendall(b"early")
        header = recv_exact(s, 16 + 12)
        assert header[:12] == V2_SIGNATURE and header[13] == 0x11
        src_ip, dst_ip, src_port, dst_port = struct.unpack("!4s4sHH", header[16:28])
        assert (socket.inet_ntoa(src_ip), src_port) == s.getsockname()
        assert (socket.inet_ntoa(dst_ip), dst_port) == s.getpeername()
        assert recv_exact(s, 5) == b"early"


def test_one_header_after_a_failed_connect_and_retry(l4lb, servers):
    """The header is queued when a connect succeeds, so a retry after a refused connect sends
    exactly one, to the backend that took the connection."""
    dead = tcp_url(free_port())  # nothing listens: the connect is refused
    backend = servers(tcp_url(free_port()), handler=header_echo)
    listen = tcp_url(free_port())
    l4lb(simple_config(listen, [dead, backend.url], balance="first",
                       pool={"send_proxy": "v1", "retries": 1}), ready=[listen])
    with connect(listen) as s:
        s.sendall(b"after\n")
        line = recv_line_v1(s)
        ip, port = s.getsockname()
        assert line == f"PROXY TCP4 {ip} 127.0.0.1 {port} {s.getpeername()[1]}\r\n".encode()
        assert recv_exact(s, 6) == b"after\n"


def recv_line_v1(s: socket.socket) -> bytes:
    line = b""
    while not line.endswith(b"\r\n") and len(line) < 107:
        chunk = s.recv(1)
        if not chunk:
            break
        line += chunk
    return line
