"""A second host on a veth pair: a network namespace the test makes and removes itself, for what
loopback cannot show (a server that treats 127.0.0.1 specially). Addresses come from the
documentation range 198.51.100.0/24 (192.0.2.0/24 may be this machine's own)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

HOST_ADDRESS = "198.51.100.1"
PEER_ADDRESS = "198.51.100.2"


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20, check=check)


def netns_available() -> bool:
    return os.geteuid() == 0 and shutil.which("ip") is not None


class VethPeer:
    """`with VethPeer() as peer:` a namespace reachable from here at PEER_ADDRESS, with this
    side at HOST_ADDRESS; `peer.wrap(argv)` runs a command inside it."""

    def __init__(self):
        tag = f"{os.getpid() % 100000}"
        self.name = f"l4lbt{tag}"
        # `ip netns exec` mounts these over /etc/hosts and /etc/resolv.conf inside: names of
        # the two ends resolve both ways from files, and nothing waits on a DNS server.
        self.etc = Path("/etc/netns") / self.name
        self.host_link = f"l4h{tag}"
        self.peer_link = f"l4p{tag}"

    def __enter__(self) -> "VethPeer":
        self.close()  # leftovers of an interrupted run with the same pid
        self.etc.mkdir(parents=True, exist_ok=True)
        (self.etc / "hosts").write_text(f"127.0.0.1 localhost\n{HOST_ADDRESS} l4lb-host\n"
                                        f"{PEER_ADDRESS} l4lb-peer\n")
        (self.etc / "resolv.conf").write_text("nameserver 127.0.0.1\noptions timeout:1 attempts:1\n")
        try:
            _ip("netns", "add", self.name)
            _ip("link", "add", self.host_link, "type", "veth", "peer", "name", self.peer_link)
            _ip("link", "set", self.peer_link, "netns", self.name)
            _ip("addr", "add", f"{HOST_ADDRESS}/24", "dev", self.host_link)
            _ip("link", "set", self.host_link, "up")
            _ip("-n", self.name, "addr", "add", f"{PEER_ADDRESS}/24", "dev", self.peer_link)
            _ip("-n", self.name, "link", "set", self.peer_link, "up")
            _ip("-n", self.name, "link", "set", "lo", "up")
        except subprocess.CalledProcessError as e:
            self.close()
            raise AssertionError(f"cannot make a veth namespace: {e.stderr}") from e
        return self

    def wrap(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def close(self) -> None:
        _ip("link", "del", self.host_link, check=False)
        _ip("netns", "del", self.name, check=False)
        shutil.rmtree(self.etc, ignore_errors=True)

    def __exit__(self, *exc) -> None:
        self.close()
