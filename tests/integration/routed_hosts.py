"""Hosts in network namespaces joined by veth pairs, with routes: for what one loopback cannot
show (a backend that answers a client's own address, routers). Made and removed by the test,
whatever happens; addresses from the documentation ranges."""

from __future__ import annotations

import os
import shutil
import subprocess


def _run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(argv, capture_output=True, text=True, timeout=20, check=check)


def namespaces_available() -> bool:
    return os.geteuid() == 0 and shutil.which("ip") is not None


class Hosts:
    """`with Hosts("cl", "lb", "be") as hosts:` one namespace per name (prefixed with this
    process's pid, so parallel runs do not meet); `hosts.link(a, addr_a, b, addr_b)` joins two
    with a veth pair ("192.0.2.1/24" or "2001:db8::1/64"); `hosts.run(name, argv)` runs a command
    inside; `hosts.wrap(name, argv)` is argv run inside (for Popen: `ip netns exec` execs)."""

    def __init__(self, *names: str):
        self.tag = f"{os.getpid() % 100000}"
        self.names = {name: f"l4{name}{self.tag}" for name in names}
        self.links: list[tuple[str, str]] = []

    def __enter__(self) -> "Hosts":
        self.close()
        try:
            for ns in self.names.values():
                _run(["ip", "netns", "add", ns])
                _run(["ip", "-n", ns, "link", "set", "lo", "up"])
        except subprocess.CalledProcessError as e:
            self.close()
            raise AssertionError(f"cannot make a namespace: {e.stderr}") from e
        return self

    def ns(self, name: str) -> str:
        return self.names[name]

    def link(self, a: str, a_addrs: list[str], b: str, b_addrs: list[str]) -> None:
        n = len(self.links)
        end_a, end_b = f"v{a}{n}", f"v{b}{n}"
        tmp_a, tmp_b = f"l4t{self.tag}a{n}", f"l4t{self.tag}b{n}"
        try:
            _run(["ip", "link", "add", tmp_a, "type", "veth", "peer", "name", tmp_b])
            for tmp, end, host, addrs in ((tmp_a, end_a, a, a_addrs), (tmp_b, end_b, b, b_addrs)):
                ns = self.names[host]
                _run(["ip", "link", "set", tmp, "netns", ns])
                _run(["ip", "-n", ns, "link", "set", tmp, "name", end])
                for addr in addrs:
                    # nodad: an IPv6 address is usable at once, not after duplicate detection.
                    extra = ["nodad"] if ":" in addr else []
                    _run(["ip", "-n", ns, "addr", "add", addr, "dev", end, *extra])
                _run(["ip", "-n", ns, "link", "set", end, "up"])
        except subprocess.CalledProcessError as e:
            _run(["ip", "link", "del", tmp_a], check=False)
            raise AssertionError(f"cannot link {a} and {b}: {e.stderr}") from e
        self.links.append((a, b))

    def route(self, name: str, *args: str) -> None:
        family = ["-6"] if any(":" in a for a in args) else []
        self.run(name, ["ip", *family, "route", "add", *args])

    def run(self, name: str, argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
        result = subprocess.run(self.wrap(name, argv), capture_output=True, text=True, timeout=30)
        if check and result.returncode != 0:
            raise AssertionError(f"in {name}: {' '.join(argv)} failed ({result.returncode}):\n"
                                 f"{result.stdout}{result.stderr}")
        return result

    def wrap(self, name: str, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.names[name], *argv]

    def close(self) -> None:
        for ns in self.names.values():
            # Deleting a namespace deletes its veth ends, and with them their peers.
            pids = _run(["ip", "netns", "pids", ns], check=False).stdout.split()
            for pid in pids:
                _run(["kill", "-9", pid], check=False)
            _run(["ip", "netns", "del", ns], check=False)

    def __exit__(self, *exc) -> None:
        self.close()
