"""Test hosts in network namespaces joined by veth pairs, torn down whatever happens:

    client  192.0.2.10 .. 192.0.2.(10+N-1)/24  (many source addresses)
       |  veth
    lb      192.0.2.1/24; VIPs 203.0.113.0/24 on its loopback; 198.51.100.1/24 on a bridge
       |  bridge + a veth per backend
    b1..b3  198.51.100.11 .. 198.51.100.13/24

Faults that must not touch this machine's own networking (nftables drops and loss, tc) go
inside these namespaces. `with Topology() as topo:` then `topo.wrap("lb", argv)` runs a command
in the l4lb host; every process still in a namespace at teardown is killed by its pid."""

from __future__ import annotations

import os
import signal
import subprocess
import time

CLIENT_NET = "192.0.2"
BACKEND_NET = "198.51.100"
VIP_NET = "203.0.113"
LB_CLIENT_SIDE = f"{CLIENT_NET}.1"
LB_BACKEND_SIDE = f"{BACKEND_NET}.1"
VIP = f"{VIP_NET}.1"


def _run(argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
    out = subprocess.run(argv, capture_output=True, text=True, timeout=30)
    if check and out.returncode != 0:
        raise AssertionError(f"{' '.join(argv)}: {out.stderr.strip()}")
    return out


class Topology:
    def __init__(self, client_addresses: int = 20, backends: int = 3):
        tag = f"{os.getpid() % 100000}"
        self.tag = tag
        self.ns = {"client": f"fcli{tag}", "lb": f"flb{tag}"}
        self.backend_names = [f"b{i + 1}" for i in range(backends)]
        for b in self.backend_names:
            self.ns[b] = f"f{b}{tag}"
        self.client_addresses = [f"{CLIENT_NET}.{10 + i}" for i in range(client_addresses)]
        self.backend_addresses = {b: f"{BACKEND_NET}.{11 + i}"
                                  for i, b in enumerate(self.backend_names)}

    def wrap(self, host: str, argv: list[str] | None = None) -> list[str]:
        return ["ip", "netns", "exec", self.ns[host]] + (argv or [])

    def run(self, host: str, argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
        return _run(self.wrap(host, argv), check)

    def __enter__(self) -> "Topology":
        self.close()  # leftovers of an interrupted run with the same pid
        try:
            self._build()
        except BaseException:
            self.close()
            raise
        return self

    def _build(self) -> None:
        for name in self.ns.values():
            _run(["ip", "netns", "add", name])
            _run(["ip", "-n", name, "link", "set", "lo", "up"])
        cli, lb, t = self.ns["client"], self.ns["lb"], self.tag
        _run(["ip", "link", "add", f"fc{t}", "netns", cli, "type", "veth", "peer", "name",
              f"fl{t}", "netns", lb])
        for a in self.client_addresses:
            _run(["ip", "-n", cli, "addr", "add", f"{a}/24", "dev", f"fc{t}"])
        _run(["ip", "-n", cli, "link", "set", f"fc{t}", "up"])
        _run(["ip", "-n", cli, "route", "add", "default", "via", LB_CLIENT_SIDE])
        _run(["ip", "-n", lb, "addr", "add", f"{LB_CLIENT_SIDE}/24", "dev", f"fl{t}"])
        _run(["ip", "-n", lb, "link", "set", f"fl{t}", "up"])
        _run(["ip", "-n", lb, "addr", "add", f"{VIP}/32", "dev", "lo"])
        _run(["ip", "-n", lb, "link", "add", "br0", "type", "bridge"])
        _run(["ip", "-n", lb, "addr", "add", f"{LB_BACKEND_SIDE}/24", "dev", "br0"])
        _run(["ip", "-n", lb, "link", "set", "br0", "up"])
        for b in self.backend_names:
            ns = self.ns[b]
            _run(["ip", "link", "add", f"{b}x{t}", "netns", ns, "type", "veth", "peer", "name",
                  f"{b}l{t}", "netns", lb])
            _run(["ip", "-n", lb, "link", "set", f"{b}l{t}", "master", "br0", "up"])
            _run(["ip", "-n", ns, "addr", "add", f"{self.backend_addresses[b]}/24", "dev",
                  f"{b}x{t}"])
            _run(["ip", "-n", ns, "link", "set", f"{b}x{t}", "up"])
            _run(["ip", "-n", ns, "route", "add", "default", "via", LB_BACKEND_SIDE])

    def nft(self, host: str, ruleset: str) -> None:
        """Loads an nftables ruleset (text) inside `host`'s namespace."""
        out = subprocess.run(self.wrap(host, ["nft", "-f", "-"]), input=ruleset,
                             capture_output=True, text=True, timeout=30)
        assert out.returncode == 0, out.stderr

    def close(self) -> None:
        for name in self.ns.values():
            pids = _run(["ip", "netns", "pids", name], check=False).stdout.split()
            for pid in pids:
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except (ProcessLookupError, ValueError):
                    pass
        if any(_run(["ip", "netns", "pids", n], check=False).stdout.strip()
               for n in self.ns.values()):
            time.sleep(0.2)
        for name in self.ns.values():
            _run(["ip", "netns", "del", name], check=False)

    def __exit__(self, *exc) -> None:
        self.close()
