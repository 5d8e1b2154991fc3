"""In-process backends: a threaded server with a pluggable per-connection handler, the
handlers the tests use, and a port that never answers."""

from __future__ import annotations

import os
import socket
import threading
import time
from typing import Callable

from net import IO_TIMEOUT, connect, sockaddr_of, tcp_url


class Server:
    """Listens on `url` in a thread; runs `handler(conn, server)` per connection in a thread.

    Counts connections (accepted, active); handler exceptions are kept in `errors` rather than
    raised. stop() closes everything and joins every thread with a timeout."""

    def __init__(self, url: str, handler: Callable[[socket.socket, "Server"], None],
                 name: str = ""):
        self.url = url
        self.name = name or url
        self.handler = handler
        self.accepted = 0
        self.active = 0
        self.errors: list[BaseException] = []
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._conns: set[socket.socket] = set()
        self._threads: list[threading.Thread] = []
        family, addr = sockaddr_of(url)
        self._path = addr if family == socket.AF_UNIX and not addr.startswith("\0") else None
        self.sock = socket.socket(family, socket.SOCK_STREAM)
        if family != socket.AF_UNIX:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(addr)
        self.sock.listen(256)
        self.sock.settimeout(0.1)
        self._accept_thread = threading.Thread(target=self._accept_loop, daemon=True,
                                               name=f"accept {self.name}")
        self._accept_thread.start()

    def _accept_loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                break
            conn.settimeout(IO_TIMEOUT * 3)
            with self._lock:
                self.accepted += 1
                self.active += 1
                self._conns.add(conn)
            t = threading.Thread(target=self._serve, args=(conn,), daemon=True,
                                 name=f"conn {self.name}")
            self._threads.append(t)
            t.start()

    def _serve(self, conn: socket.socket) -> None:
        try:
            self.handler(conn, self)
        except (OSError, ValueError) as e:  # resets, timeouts, closed by stop()
            with self._lock:
                self.errors.append(e)
        finally:
            conn.close()
            with self._lock:
                self.active -= 1
                self._conns.discard(conn)

    def stopping(self) -> bool:
        return self._stop.is_set()

    def stop(self) -> None:
        self._stop.set()
        self._accept_thread.join(5)
        self.sock.close()
        with self._lock:
            conns = list(self._conns)
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        for t in self._threads:
            t.join(5)
        if self._path:
            try:
                os.unlink(self._path)
            except OSError:
                pass

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


class Blackhole:
    """A TCP port on 127.0.0.1 that never answers a SYN, so connect() to it times out:
    a listener with backlog 0 whose accept queue is filled and never drained (Linux drops
    SYNs to a listener whose accept queue is full)."""

    def __init__(self):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(0)
        self.port = self.sock.getsockname()[1]
        self.url = tcp_url(self.port)
        self.fillers = []
        for _ in range(4):
            f = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            f.setblocking(False)
            f.connect_ex(("127.0.0.1", self.port))
            self.fillers.append(f)
        time.sleep(0.2)

    def works(self) -> bool:
        """True if a fresh connect() really times out."""
        try:
            s = connect(self.url, timeout=1.0)
        except socket.timeout:
            return True
        except OSError:
            return False
        s.close()
        return False

    def close(self) -> None:
        for f in self.fillers:
            f.close()
        self.sock.close()


def name_handler(name: str):
    """Sends "name\\n" on connect, then echoes everything until EOF, then closes."""
    line = (name + "\n").encode()

    def handle(conn: socket.socket, server: Server) -> None:
        conn.sendall(line)
        while True:
            data = conn.recv(65536)
            if not data:
                return
            conn.sendall(data)

    return handle


def count_handler(conn: socket.socket, server: Server) -> None:
    """Reads to EOF, then replies the byte count ("1048576") and closes."""
    n = 0
    while True:
        data = conn.recv(65536)
        if not data:
            break
        n += len(data)
    conn.sendall(str(n).encode())


def name_server(url: str, name: str) -> Server:
    return Server(url, name_handler(name), name)
