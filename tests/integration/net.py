"""Sockets for the tests: ports, endpoint URLs, client helpers, bounded waiting.

Every socket operation has a timeout and every loop a bound. Traffic stays on 127.0.0.1, ::1
and Unix sockets.
"""

from __future__ import annotations

import os
import socket
import struct
import threading
import time
from typing import Callable

IO_TIMEOUT = 10.0  # seconds for any single socket operation in a test

# ---------------------------------------------------------------------------------------------
# Ports and endpoint URLs


# Ports handed out by port 0 come from the kernel's ephemeral range, which every outgoing
# connection draws from too: between "free a moment ago" and the server's bind, a client socket
# of another test worker (or of l4lb itself) can take it. So each pytest-xdist worker gets its
# own slice below the ephemeral range and walks it, checking that the port binds.
_PORT_FLOOR = 10000
_PORT_SLICE = 2500  # ports per worker: up to 8 workers below 30000
_port_lock = threading.Lock()
_port_next: int | None = None


def _port_slice() -> tuple[int, int]:
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    index = int(worker[2:]) if worker.startswith("gw") and worker[2:].isdigit() else 0
    start = _PORT_FLOOR + (index % 8) * _PORT_SLICE
    return start, start + _PORT_SLICE


def _binds(host: str, port: int) -> bool:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for kind in (socket.SOCK_STREAM, socket.SOCK_DGRAM):
        with socket.socket(family, kind) as s:
            try:
                s.bind((host, port))
            except OSError:
                return False
    return True


def free_port(host: str = "127.0.0.1") -> int:
    """A port free for TCP and UDP on host, from this worker's slice of the non-ephemeral range."""
    global _port_next
    start, end = _port_slice()
    with _port_lock:
        if _port_next is None:
            _port_next = start
        for _ in range(end - start):
            port = _port_next
            _port_next = start if _port_next + 1 >= end else _port_next + 1
            if _binds(host, port):
                return port
    raise RuntimeError(f"no free port in {start}-{end - 1} on {host}")


def tcp_url(port: int, host: str = "127.0.0.1") -> str:
    return f"tcp://[{host}]:{port}" if ":" in host else f"tcp://{host}:{port}"


def ipv6_loopback_available() -> bool:
    try:
        with socket.socket(socket.AF_INET6, socket.SOCK_STREAM) as s:
            s.bind(("::1", 0))
        return True
    except OSError:
        return False


def sockaddr_of(url: str):
    """(family, Python socket address) for tcp://h:p, tcp://[v6]:p, unix:///path, unix://@name."""
    if url.startswith("tcp://"):
        rest = url[len("tcp://"):]
        if rest.startswith("["):
            host, _, port = rest[1:].partition("]:")
            return socket.AF_INET6, (host, int(port))
        host, _, port = rest.rpartition(":")
        return socket.AF_INET, (host, int(port))
    if url.startswith("unix://@"):
        return socket.AF_UNIX, "\0" + url[len("unix://@"):]
    if url.startswith("unix://"):
        return socket.AF_UNIX, url[len("unix://"):]
    raise ValueError(f"unsupported url {url!r}")


# ---------------------------------------------------------------------------------------------
# Clients


def connect(url: str, timeout: float = IO_TIMEOUT) -> socket.socket:
    family, addr = sockaddr_of(url)
    s = socket.socket(family, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(addr)
    except BaseException:
        s.close()
        raise
    return s


def recv_line(s: socket.socket, limit: int = 65536) -> bytes:
    """Bytes up to and including the first newline, and nothing after it (peeks first);
    less only if the peer closed first."""
    buf = b""
    while len(buf) < limit:
        peek = s.recv(4096, socket.MSG_PEEK)
        if not peek:
            break
        nl = peek.find(b"\n")
        buf += s.recv(nl + 1 if nl >= 0 else len(peek))
        if nl >= 0:
            break
    return buf


def recv_exact(s: socket.socket, n: int) -> bytes:
    buf = b""
    while len(buf) < n:
        chunk = s.recv(min(65536, n - len(buf)))
        if not chunk:
            break
        buf += chunk
    return buf


def recv_until_eof(s: socket.socket, limit: int = 64 << 20) -> bytes:
    chunks = []
    total = 0
    while total < limit:
        chunk = s.recv(65536)
        if not chunk:
            break
        chunks.append(chunk)
        total += len(chunk)
    return b"".join(chunks)


def wait_closed(s: socket.socket, timeout: float = IO_TIMEOUT) -> tuple[str, bytes]:
    """Reads until the peer ends the connection: ("eof"|"reset", bytes read before that).
    Raises socket.timeout if it stays open longer than `timeout`."""
    s.settimeout(timeout)
    data = b""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            return "reset", data
        if not chunk:
            return "eof", data
        data += chunk
    raise socket.timeout("connection still open")


def connect_expect_closed(url: str, send: bytes = b"",
                          timeout: float = IO_TIMEOUT) -> tuple[str, bytes]:
    """Connects to a listener that should close the connection (e.g. no backend reachable):
    ("eof"|"reset", bytes received). A reset can already be reported by connect() itself,
    since on loopback l4lb may accept and abort before this thread sees the handshake."""
    try:
        s = connect(url, timeout)
    except ConnectionResetError:
        return "reset", b""
    with s:
        if send:
            try:
                s.sendall(send)
            except (ConnectionResetError, BrokenPipeError):
                return "reset", b""
        return wait_closed(s, timeout)


def ask_name(url: str, timeout: float = IO_TIMEOUT) -> str:
    """Connects, reads the one-line name a NameServer sends, closes."""
    with connect(url, timeout) as s:
        return recv_line(s).decode().strip()


def set_linger_zero(s: socket.socket) -> None:
    """close() will then send RST instead of FIN."""
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def wait_until(predicate: Callable[[], bool], timeout: float, interval: float = 0.05) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if predicate():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(interval)


def can_connect(url: str, timeout: float = 2.0) -> bool:
    """True if something accepted a connection on `url` (the socket is closed again)."""
    try:
        s = connect(url, timeout=timeout)
    except OSError:
        return False
    s.close()
    return True


def echo_both_ways(url: str, greeting: bytes, payload: bytes, timeout: float = 30) -> bytes:
    """Through an echo backend that first sends `greeting`: sends `payload` and half-closes
    from one thread while reading everything back in this one (both directions at once, so
    neither side's buffers can deadlock the transfer). Returns what came back."""
    errors: list[BaseException] = []
    with connect(url, timeout=timeout) as s:
        assert recv_exact(s, len(greeting)) == greeting

        def writer():
            try:
                s.sendall(payload)
                s.shutdown(socket.SHUT_WR)
            except OSError as e:
                errors.append(e)

        t = threading.Thread(target=writer, daemon=True)
        t.start()
        echoed = recv_until_eof(s, limit=2 * len(payload) + 1024)
        t.join(timeout)
    assert not errors, errors
    return echoed
