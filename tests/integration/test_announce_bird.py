"""The shipped BIRD 2 config (packaging/bird/l4lb.conf) with a real BIRD beside l4lb, peering by
BGP (with BFD) with a real BIRD on a router: the VIP l4lb announces becomes a route in the
router's kernel table, and leaves it after `kill -9` of l4lb (the kernel deletes l4lb's TUN
interface, BIRD's direct protocol loses the address, BGP withdraws it), while the session stays up.

Two namespaces the test makes and removes: `rtr` and `lb`, joined by a veth pair
(203.0.113.1/30 and .2/30); the VIP 198.51.100.10 is on lb's lo. Not the multi-instance ECMP
test of issue 16: one instance, one router."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
from pathlib import Path

import pytest
from harness import REPO, config_toml, wait_until
from netns import netns_available

pytestmark = pytest.mark.skipif(
    not netns_available() or shutil.which("bird") is None or shutil.which("birdc") is None,
    reason="needs root, `ip` and BIRD 2 (package bird2)")

VIP = "198.51.100.10"
ROUTER_ADDRESS = "203.0.113.1"
LB_ADDRESS = "203.0.113.2"
ROUTER_AS = 65000
LB_AS = 65101

ROUTER_CONFIG = f"""
log stderr all;
router id {ROUTER_ADDRESS};
protocol device {{ scan time 10; }}
protocol kernel {{
    ipv4 {{ import none; export where source = RTS_BGP; }};
    merge paths on limit 16;
}}
protocol bfd {{
    interface "*" {{ min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }};
}}
protocol bgp lb1 {{
    local {ROUTER_ADDRESS} as {ROUTER_AS};
    neighbor {LB_ADDRESS} as {LB_AS};
    hold time 3; keepalive time 1;
    connect delay time 1; connect retry time 2; error wait time 1, 10;
    bfd on;
    ipv4 {{ import where net ~ [ 198.51.100.0/24{{32,32}} ]; export none; }};
}}
"""


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20, check=check)


def lb_bird_config() -> str:
    """packaging/bird/l4lb.conf as shipped, with this topology's values in its defines."""
    text = (REPO / "packaging" / "bird" / "l4lb.conf").read_text()
    values = {"LB_ADDRESS": LB_ADDRESS, "LB_AS": str(LB_AS), "ROUTER_ADDRESS": ROUTER_ADDRESS,
              "ROUTER_AS": str(ROUTER_AS), "VIPS4": "[ 198.51.100.0/24{32,32} ]"}
    for name, value in values.items():
        text, count = re.subn(rf"^define {name} = [^;]*;", f"define {name} = {value};", text,
                              flags=re.M)
        assert count == 1, f"packaging/bird/l4lb.conf has no `define {name}` line"
    return "log stderr all;\n" + text


class Topology:
    def __init__(self, workdir: Path):
        tag = f"{os.getpid() % 100000}"
        self.rtr = f"l4rt{tag}"
        self.lb = f"l4lb{tag}"
        self.rtr_link = f"l4r{tag}"
        self.lb_link = f"l4l{tag}"
        self.workdir = workdir
        self.birds: list[subprocess.Popen] = []

    def __enter__(self) -> "Topology":
        self.close()
        for ns in (self.rtr, self.lb):
            _ip("netns", "add", ns)
            _ip("-n", ns, "link", "set", "lo", "up")
        _ip("link", "add", self.rtr_link, "netns", self.rtr, "type", "veth", "peer", "name",
            self.lb_link, "netns", self.lb)
        _ip("-n", self.rtr, "addr", "add", f"{ROUTER_ADDRESS}/30", "dev", self.rtr_link)
        _ip("-n", self.lb, "addr", "add", f"{LB_ADDRESS}/30", "dev", self.lb_link)
        _ip("-n", self.rtr, "link", "set", self.rtr_link, "up")
        _ip("-n", self.lb, "link", "set", self.lb_link, "up")
        _ip("-n", self.lb, "addr", "add", f"{VIP}/32", "dev", "lo")
        return self

    def wrap(self, ns: str, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", ns, *argv]

    def start_bird(self, ns: str, config: str) -> Path:
        """BIRD in `ns`, in the foreground; its control socket's path."""
        conf = self.workdir / f"bird-{ns}.conf"
        conf.write_text(config)
        sock = self.workdir / f"bird-{ns}.ctl"
        log = open(self.workdir / f"bird-{ns}.log", "wb")
        self.birds.append(subprocess.Popen(
            self.wrap(ns, ["bird", "-f", "-c", str(conf), "-s", str(sock),
                           "-P", str(self.workdir / f"bird-{ns}.pid")]),
            stdin=subprocess.DEVNULL, stdout=log, stderr=log))
        return sock

    def router_route(self) -> str:
        return _ip("-n", self.rtr, "route", "show", f"{VIP}/32", check=False).stdout.strip()

    def close(self) -> None:
        for bird in self.birds:
            if bird.poll() is None:
                bird.terminate()
                try:
                    bird.wait(10)
                except subprocess.TimeoutExpired:
                    bird.kill()
                    bird.wait(10)
        self.birds = []
        for ns in (self.rtr, self.lb):
            _ip("netns", "del", ns, check=False)

    def __exit__(self, *exc) -> None:
        self.close()


def birdc(sock: Path, *args: str) -> str:
    return subprocess.run(["birdc", "-s", str(sock), *args], capture_output=True, text=True,
                          timeout=10).stdout


def test_the_vip_is_routed_at_the_router_while_announced_and_withdrawn_after_kill_9(
        l4lb, workdir):
    with Topology(workdir) as topo:
        router_sock = topo.start_bird(topo.rtr, ROUTER_CONFIG)
        lb_sock = topo.start_bird(topo.lb, lb_bird_config())
        path = workdir / "announce.toml"
        path.write_text(config_toml(
            [{"name": "front", "bind": f"tcp://{VIP}:8080", "pool": "back", "announce": True}],
            {"back": {"backends": [{"address": "tcp://127.0.0.1:9"}]}},
            {"announce_interface": "l4vip0"}) + f'\n[admin]\nlisten = ["unix://{workdir}/a.sock"]\n')
        proc = l4lb(args=["-c", str(path)], wrapper=topo.wrap(topo.lb, []))
        proc.wait_ready([f"tcp://{VIP}:8080"])

        # BGP comes up (a few seconds: connect delay, open, keepalives), then the route.
        assert wait_until(lambda: f"via {LB_ADDRESS}" in topo.router_route(), 60), (
            topo.router_route(), birdc(router_sock, "show", "protocols", "all"),
            birdc(lb_sock, "show", "route", "all"), proc.describe())
        assert "proto bird" in topo.router_route()

        proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        assert proc.wait(10) is not None
        assert wait_until(lambda: topo.router_route() == "", 15, interval=0.01), \
            topo.router_route()
        elapsed = time.monotonic() - killed
        print(f"\nroute left the router {elapsed * 1000:.0f} ms after kill -9 of l4lb")
        # Withdrawn by an update: the session itself stayed up (BIRD and the host are alive).
        assert "Established" in birdc(lb_sock, "show", "protocols", "uplink")
