"""Datagram helpers: UDP and unixgram ports and servers, unbound and dig, POSIX message queues
(ctypes on librt), and reading l4lb's access log and exit totals.

Every socket has a timeout, every loop a bound, and every server thread stops with the test.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import os
import re
import socket
import subprocess
import threading
from pathlib import Path

from net import IO_TIMEOUT, free_port, wait_until
from procs import READY_TIMEOUT, Process

# ---------------------------------------------------------------------------------------------
# Ports and URLs


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A UDP port that is free (see net.free_port: outside the ephemeral range, per worker)."""
    return free_port(host)


def udp_url(port: int, host: str = "127.0.0.1") -> str:
    return f"udp://[{host}]:{port}" if ":" in host else f"udp://{host}:{port}"


def udp_client(host: str = "127.0.0.1", timeout: float = 2.0) -> socket.socket:
    s = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_DGRAM)
    s.bind((host, 0))
    s.settimeout(timeout)
    return s


# ---------------------------------------------------------------------------------------------
# In-process datagram servers


class DatagramServer:
    """A UDP or unixgram socket served by a thread: keeps every datagram it receives and,
    unless `reply` is None, answers each with reply(data) (default: prefix + data)."""

    def __init__(self, family: int, address, prefix: bytes = b"", reply=True):
        self.sock = socket.socket(family, socket.SOCK_DGRAM)
        if family != socket.AF_UNIX:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        self.sock.bind(address)
        self.sock.settimeout(0.1)
        self.address = self.sock.getsockname()
        self.prefix = prefix
        self.reply = reply
        self.received: list[bytes] = []
        self.peers: list = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="dgram server")
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                data, peer = self.sock.recvfrom(70000)
            except socket.timeout:
                continue
            except OSError:
                return
            self.received.append(data)
            self.peers.append(peer)
            if self.reply and peer:
                try:
                    self.sock.sendto(self.prefix + data, peer)
                except OSError:
                    pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


def udp_server(host: str = "127.0.0.1", prefix: bytes = b"", reply=True) -> DatagramServer:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    return DatagramServer(family, (host, 0), prefix, reply)


def server_udp_url(server: DatagramServer) -> str:
    host, port = server.address[0], server.address[1]
    return udp_url(port, host)


# ---------------------------------------------------------------------------------------------
# unbound and dig


def start_unbound(workdir: Path, port: int, records: dict[str, str],
                  hosts: tuple[str, ...] = ("127.0.0.1",), name: str = "unbound",
                  control: Path | None = None, wrapper: list[str] | None = None) -> Process:
    """A real unbound on `port` of each host, answering only from local-data (no recursion).
    With `control`, unbound-control reaches it on that Unix socket (no TLS: a local socket) to
    change its local data at runtime: `unbound-control -c {workdir}/{name}.conf local_data ...`.
    `wrapper` execs it (and the dig that waits for it) elsewhere: `ip netns exec NS`."""
    conf = workdir / f"{name}.conf"
    lines = ["server:"]
    lines += [f"  interface: {h}@{port}" for h in hosts]
    lines += [f"  port: {port}", "  do-daemonize: no", '  chroot: ""', '  username: ""',
              '  pidfile: ""', f'  directory: "{workdir}"', "  use-syslog: no", '  logfile: ""',
              "  verbosity: 0", "  num-threads: 1",
              # UDP only: the port was checked free for UDP, and TCP could be taken.
              "  do-tcp: no", "  access-control: 127.0.0.0/8 allow",
              "  access-control: ::1 allow", "  do-not-query-localhost: yes",
              '  local-zone: "test." static']
    lines += [f'  local-data: "{n} IN A {a}"' for n, a in records.items()]
    if control is None:
        lines += ["remote-control:", "  control-enable: no"]
    else:
        lines += ["remote-control:", "  control-enable: yes", f'  control-interface: "{control}"']
    conf.write_text("\n".join(lines) + "\n")
    p = Process([*(wrapper or []), "unbound", "-d", "-c", str(conf)], workdir, name)
    first = next(iter(records))
    ok = wait_until(lambda: p.proc.poll() is not None or
                    dig(hosts[0], port, first, timeout=1, wrapper=wrapper) != [],
                    2 * READY_TIMEOUT, 0.1)
    if not ok or p.proc.poll() is not None:
        p.stop()
        raise AssertionError("unbound did not start:\n" + p.log())
    return p


def dig(host: str, port: int, qname: str, timeout: int = 2, tries: int = 1,
        wrapper: list[str] | None = None) -> list[str]:
    """The A records dig gets for `qname` from host:port ([] when no answer came)."""
    r = subprocess.run([*(wrapper or []), "dig", "+short", f"+time={timeout}", f"+tries={tries}", "-p", str(port),
                        f"@{host}", qname, "A"],
                       capture_output=True, text=True, timeout=timeout * tries + 10)
    return [ln for ln in r.stdout.split() if re.fullmatch(r"[0-9.]+", ln)]


def dns_query(qname: str, qid: int = 0x1234) -> bytes:
    """A minimal DNS query for `qname` A (recursion desired)."""
    labels = b"".join(bytes([len(p)]) + p.encode() for p in qname.rstrip(".").split("."))
    return qid.to_bytes(2, "big") + b"\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00" + labels + \
        b"\x00\x00\x01\x00\x01"


# ---------------------------------------------------------------------------------------------
# POSIX message queues through ctypes


class MqAttr(ctypes.Structure):
    _fields_ = [("mq_flags", ctypes.c_long), ("mq_maxmsg", ctypes.c_long),
                ("mq_msgsize", ctypes.c_long), ("mq_curmsgs", ctypes.c_long),
                ("__reserved", ctypes.c_long * 4)]


_rt = ctypes.CDLL(ctypes.util.find_library("rt") or "librt.so.1", use_errno=True)
_rt.mq_open.restype = ctypes.c_int
_rt.mq_open.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.c_uint, ctypes.POINTER(MqAttr)]
_rt.mq_send.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint]
_rt.mq_receive.restype = ctypes.c_ssize_t
_rt.mq_receive.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_size_t,
                           ctypes.POINTER(ctypes.c_uint)]
_rt.mq_unlink.argtypes = [ctypes.c_char_p]


class MessageQueue:
    """One end of a POSIX message queue ("/name"), created if missing, non-blocking."""

    def __init__(self, name: str, write: bool, max_messages: int = 10, message_size: int = 8192):
        self.name = name
        attr = MqAttr(0, max_messages, message_size, 0)
        flags = (os.O_WRONLY if write else os.O_RDONLY) | os.O_CREAT | os.O_NONBLOCK
        self.fd = _rt.mq_open(name.encode(), flags, 0o600, ctypes.byref(attr))
        if self.fd < 0:
            err = ctypes.get_errno()
            raise OSError(err, f"mq_open {name}: {os.strerror(err)}")
        self.message_size = message_size

    def send(self, data: bytes) -> None:
        if _rt.mq_send(self.fd, data, len(data), 0) != 0:
            err = ctypes.get_errno()
            raise OSError(err, f"mq_send: {os.strerror(err)}")

    def receive(self, timeout: float = IO_TIMEOUT) -> bytes | None:
        """The next message, or None if none came within `timeout`."""
        buf = ctypes.create_string_buffer(65536)
        out: list[bytes] = []

        def got() -> bool:
            n = _rt.mq_receive(self.fd, buf, 65536, None)
            if n >= 0:
                out.append(buf.raw[:n])
                return True
            return False

        return out[0] if wait_until(got, timeout, 0.02) else None

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)  # an mqd_t is a file descriptor on Linux
            self.fd = -1


def mq_unlink(name: str) -> None:
    _rt.mq_unlink(name.encode())


# ---------------------------------------------------------------------------------------------
# What l4lb reports


def json_records(text: str) -> list[dict]:
    """Every JSON object line in `text` (the access log, or stderr with it)."""
    out = []
    for line in text.splitlines():
        start = line.find("{")
        if start < 0:
            continue
        try:
            obj = json.loads(line[start:])
        except ValueError:
            continue
        if isinstance(obj, dict):
            out.append(obj)
    return out


def flow_records(path: Path) -> list[dict]:
    return [r for r in json_records(path.read_text() if path.exists() else "")
            if "datagrams_in" in r]


def datagram_totals(stderr: str) -> dict[str, int]:
    """The counters of the "datagram totals" line l4lb logs as it exits, by name."""
    m = re.search(r"datagram totals: (.*)$", stderr, re.MULTILINE)
    assert m, "no 'datagram totals' line in l4lb's log:\n" + stderr[-3000:]
    return {k: int(v) for k, v in re.findall(r"(\w+)=(\d+)", m.group(1))}
