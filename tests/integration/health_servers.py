"""Servers and clients for the tls and dns check tests and the stop/start tests: nginx with TLS
(a self-signed certificate made with `openssl req`), impostors that speak neither TLS nor DNS,
a DNS client that counts as one flow per query, and the stop/start scenario itself."""

from __future__ import annotations

import random
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path
from typing import Callable

from backends import Server
from health import CLIENT_MARK, SequentialClients, log_offset, run_nginx, wait_state
from procs import Process

# Check timing of every test here; bounds are computed from it, never asserted as speeds.
INTERVAL = 0.2
TIMEOUT = 0.3
# Scheduling slack on a loaded CI machine, on top of the bound the checks promise.
SLACK = 1.5
FAST = {"interval": "200ms", "timeout": "300ms"}

# ---------------------------------------------------------------------------------------------
# TLS


def make_cert(workdir: Path, name: str) -> tuple[Path, Path]:
    """A self-signed P-256 certificate for `name` (CN and subjectAltName) and its key."""
    cert, key = workdir / f"{name}.crt", workdir / f"{name}.key"
    if not cert.exists():
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                        "ec_paramgen_curve:prime256v1", "-nodes", "-days", "2", "-subj",
                        f"/CN={name}", "-addext", f"subjectAltName=DNS:{name}", "-keyout",
                        str(key), "-out", str(cert)], check=True, capture_output=True, timeout=30)
    return cert, key


def start_nginx_tls(workdir: Path, port: int, server_name: str, body: str = "tls",
                    reject_other_names: bool = False) -> Process:
    """nginx serving HTTPS on 127.0.0.1:`port` with a certificate for `server_name`. With
    `reject_other_names`, a ClientHello for any other name (or none) gets the alert
    unrecognized_name (ssl_reject_handshake)."""
    cert, key = make_cert(workdir, server_name)
    default = ""
    if reject_other_names:
        default = f"""
  server {{
    listen 127.0.0.1:{port} ssl default_server;
    ssl_reject_handshake on;
  }}"""
    return run_nginx(workdir, port, f"nginx-tls-{port}", f"""  ssl_protocols TLSv1.2 TLSv1.3;
  ssl_certificate {cert};
  ssl_certificate_key {key};{default}
  server {{
    listen 127.0.0.1:{port} ssl;
    server_name {server_name};
    location / {{ return 200 "{body}\\n"; }}
  }}""")


def https_get(url: str, server_name: str, timeout: float = 5.0) -> bytes:
    """One HTTPS request through `url` (tcp://host:port); returns the response body. The
    certificate is not verified (self-signed); the handshake and the reply are."""
    host, port = url.removeprefix("tcp://").rsplit(":", 1)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection((host, int(port)), timeout=timeout) as raw:
        with ctx.wrap_socket(raw, server_hostname=server_name) as s:
            s.sendall(b"GET / HTTP/1.0\r\nHost: " + server_name.encode() + b"\r\n\r\n")
            data = b""
            while chunk := s.recv(4096):
                data += chunk
                if len(data) > 65536:
                    break
    head, _, body = data.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), head[:80]
    return body


class EchoImpostor(Server):
    """Accepts TCP and echoes what it receives, then closes: a ClientHello comes back as a
    ClientHello. Counts the connections whose first bytes carry CLIENT_MARK (the test's clients
    put it in their SNI, which travels in clear; checks never do)."""

    def __init__(self, url: str):
        self.client_hits = 0
        super().__init__(url, self._handle, "echo impostor")

    def _handle(self, conn: socket.socket, server: Server) -> None:
        conn.settimeout(1.0)
        try:
            data = conn.recv(4096)
            if CLIENT_MARK in data:
                with self._lock:
                    self.client_hits += 1
            conn.sendall(data)
        except OSError:
            pass


# ---------------------------------------------------------------------------------------------
# DNS


def dns_query(qname: str, qtype: int = 1, qid: int = 0x4242) -> bytes:
    labels = b"".join(bytes([len(p)]) + p.encode() for p in qname.rstrip(".").split(".") if p)
    return (qid.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + labels +
            b"\x00" + qtype.to_bytes(2, "big") + b"\x00\x01")


def dns_ask(host: str, port: int, qname: str, tries: int = 3, wait: float = 1.0) -> bytes:
    """A query from a fresh socket (a new flow through l4lb), repeated on the same socket like a
    stub resolver retries, up to `tries` times; returns the reply or raises OSError."""
    query = dns_query(qname, 1, random.getrandbits(16))
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(wait)
        s.connect((host, port))
        for _ in range(tries):
            s.send(query)
            try:
                while True:
                    reply = s.recv(4096)
                    if reply[:2] == query[:2]:
                        return reply
            except socket.timeout:
                continue
    raise OSError(f"no reply to {qname} after {tries} tries")


def rcode(reply: bytes) -> int:
    return reply[3] & 0x0F


class DnsImpostor:
    """A UDP server that is not a working DNS server: "refused" answers every query REFUSED,
    "garbage" sends bytes that are not DNS, "silent" never answers (and `mode` may change while
    it runs); "noerror" answers every query NOERROR without records. Counts the queries for
    names holding `mark` (the test's clients), which checks never ask for."""

    def __init__(self, mode: str, mark: bytes = b"client"):
        self.mode = mode
        self.mark = mark
        self.client_hits = 0
        self.queries = 0
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="dns impostor")
        self._thread.start()

    @property
    def url(self) -> str:
        return f"udp://127.0.0.1:{self.port}"

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(4096)
            except socket.timeout:
                continue
            except OSError:
                return
            self.queries += 1
            if self.mark in data:
                self.client_hits += 1
            reply = None
            if self.mode == "noerror" and len(data) >= 12:
                # The query back as its own empty answer: NOERROR, no records.
                reply = data[:2] + bytes([0x80 | (data[2] & 0x01), 0x80]) + data[4:]
            elif self.mode == "refused" and len(data) >= 12:
                reply = data[:2] + bytes([0x80 | (data[2] & 0x01), 0x05]) + b"\x00" * 8
            elif self.mode == "garbage":
                reply = b"\x00garbage, not DNS"
            if reply is not None:
                try:
                    self.sock.sendto(reply, peer)
                except OSError:
                    pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


# ---------------------------------------------------------------------------------------------
# Stop and start


def stop_start_scenario(proc, names: tuple[str, str], exchange: Callable[[], None],
                        stop: Callable[[], None], restart: Callable[[], None], check: str,
                        rise: int, fall: int) -> SequentialClients:
    """Both backends up; clients one after another through l4lb; the first backend stopped,
    then started again. Asserts it was marked down within fall x interval (+ timeout) and up
    again within rise x interval (+ timeout), each plus SLACK. Returns the clients, stopped."""
    for name in names:
        assert wait_state(proc, name, "up", 10) is not None, proc.describe()
    clients = SequentialClients(exchange)
    try:
        time.sleep(0.5)
        offset = log_offset(proc)
        stop()
        down_after = wait_state(proc, names[0], "down", 10, after=offset)
        assert down_after is not None, proc.describe()
        assert down_after <= fall * INTERVAL * 1.1 + TIMEOUT + SLACK, down_after

        offset = log_offset(proc)
        restart()
        up_after = wait_state(proc, names[0], "up", 10, after=offset)
        assert up_after is not None, proc.describe()
        assert up_after <= rise * INTERVAL * 1.1 + TIMEOUT + SLACK, up_after
        time.sleep(0.5)
        clients.keep_on_until(21)
    finally:
        clients.stop()
    assert clients.ok > 20, f"only {clients.ok} clients ran"
    assert f"{names[0]}: up -> down ({check} check:" in proc.stderr()
    return clients
