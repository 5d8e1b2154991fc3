"""Scenario 9: slow clients. Hundreds (full tier: thousands) of connections drip a PROXY header
or a TLS ClientHello one byte at a time, or stay silent; each is closed at its deadline
(proxy_timeout, inspect_timeout), while legitimate clients beside them: 0 failed."""

from __future__ import annotations

import errno
import resource
import selectors
import socket
import time

from config_gen import config_toml
from net import wait_until

import faults
from faults import Client, brief, size

SCENARIO = "9 slow clients (drip / silent)"
DEADLINE_S = 2
DRIP_EVERY_S = 0.25
PROXY_LINE = b"PROXY TCP4 192.0.2.7 127.0.0.1 40000 80\r\n"
# A TLS record header announcing a 512-byte ClientHello, then its first bytes: never finished.
CLIENT_HELLO = bytes([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03]) + \
    bytes(range(32))


class Drippers:
    """Non-blocking sockets that each send one byte of `script` every DRIP_EVERY_S (or nothing),
    noting when the server ended them; one selector, bounded in time."""

    def __init__(self, port: int, count: int, script: bytes):
        self.script = script
        self.sel = selectors.DefaultSelector()
        self.socks: dict[socket.socket, dict] = {}
        for _ in range(count):
            s = socket.socket()
            s.setblocking(False)
            err = s.connect_ex(("127.0.0.1", port))
            assert err in (0, errno.EINPROGRESS), err
            self.socks[s] = {"sent": 0, "opened": time.monotonic(), "closed": None}
            self.sel.register(s, selectors.EVENT_READ)

    def run_until_closed(self, bound_s: float) -> None:
        end = time.monotonic() + bound_s
        next_drip = time.monotonic()
        while time.monotonic() < end and any(v["closed"] is None for v in self.socks.values()):
            for key, _ in self.sel.select(timeout=0.05):
                s = key.fileobj
                try:
                    data = s.recv(4096)
                except OSError:
                    data = b""
                if not data:
                    self.socks[s]["closed"] = time.monotonic()
                    self.sel.unregister(s)
            if self.script and time.monotonic() >= next_drip:
                next_drip += DRIP_EVERY_S
                for s, v in self.socks.items():
                    if v["closed"] is None and v["sent"] < len(self.script):
                        try:
                            v["sent"] += s.send(self.script[v["sent"]:v["sent"] + 1])
                        except OSError:
                            pass

    def figures(self) -> tuple[int, float]:
        lives = [v["closed"] - v["opened"] for v in self.socks.values() if v["closed"]]
        lives.sort()
        return len(lives), (lives[len(lives) // 2] if lives else 0.0)

    def close(self) -> None:
        for s in self.socks:
            s.close()
        self.sel.close()


def test_slow_clients_are_closed_at_their_deadline_and_others_fail_nothing(l4lb, workdir,
                                                                          backends, record):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    bs = backends(2)
    proxy_port, tls_port = faults.free_port(), faults.free_port()
    pool = {"balance": "round-robin", "retries": 2, "connect_timeout": "1s",
            "backends": [{"address": b.url} for b in bs]}
    config = config_toml(
        [{"name": "proxied", "bind": f"tcp://127.0.0.1:{proxy_port}", "pool": "web",
          "proxy_protocol": "accept", "proxy_trusted": ["127.0.0.0/8"],
          "proxy_timeout": f"{DEADLINE_S}s"},
         {"name": "sni", "bind": f"tcp://127.0.0.1:{tls_port}", "pool": "web",
          "routes": [{"sni": "a.example", "pool": "web"}], "inspect_timeout": f"{DEADLINE_S}s"}],
        {"web": pool}, {"access_log": "off"})
    proc = l4lb(config, ready=[f"tcp://127.0.0.1:{proxy_port}", f"tcp://127.0.0.1:{tls_port}"])
    per_kind = size(300, 2000)
    groups = {"proxy-drip": Drippers(proxy_port, per_kind, PROXY_LINE),
              "hello-drip": Drippers(tls_port, per_kind, CLIENT_HELLO),
              "silent": Drippers(proxy_port, per_kind, b"")}
    try:
        legit_proxy = Client(workdir, f"127.0.0.1:{proxy_port}",
                             ["--proxy-v1", "--count", "500", "--rate", "100", "--duration", "6s",
                              "--bytes", "2048"], name="legit-proxy")
        legit_plain = Client(workdir, f"127.0.0.1:{tls_port}",
                             ["--count", "500", "--rate", "100", "--duration", "6s",
                              "--bytes", "2048"], name="legit-plain")
        # All groups at once: the loop of each runs in turn, each bounded.
        start = time.monotonic()
        while time.monotonic() - start < DEADLINE_S * 4:
            for g in groups.values():
                g.run_until_closed(0.1)
        closed = {k: g.figures() for k, g in groups.items()}
        r1, r2 = legit_proxy.result(), legit_plain.result()
    finally:
        for g in groups.values():
            g.close()
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    figures = {f"{k}_closed": f"{n}/{per_kind}" for k, (n, _) in closed.items()}
    figures.update({f"{k}_median_life_s": round(m, 2) for k, (_, m) in closed.items()})
    figures.update({"deadline_s": DEADLINE_S, "legit_attempted": r1["attempted"] +
                    r2["attempted"], "legit_failed": r1["failed"] + r2["failed"]})
    record(figures)
    assert r1["failed"] == 0, brief(r1)
    assert r2["failed"] == 0, brief(r2)
    for kind, (n, _) in closed.items():
        assert n == per_kind, f"{kind}: {figures}"
    assert wait_until(lambda: faults.process_sockets(proc.pid, ("ESTAB",)) == 0, 10)
