"""BIRD 2 for the routing tests: the shipped l4lb host config (packaging/bird/l4lb.conf) with a
topology's values, a router's config that peers with l4lb hosts and installs their VIPs as one
multipath route, and BIRD processes run inside namespaces."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from procs import REPO, child_command


def bird_available() -> bool:
    return shutil.which("bird") is not None and shutil.which("birdc") is not None


def lb_bird_config(lb_address: str, lb_as: int, router_address: str, router_as: int,
                   vips4: str) -> str:
    """packaging/bird/l4lb.conf as shipped, with these values in its defines."""
    text = (REPO / "packaging" / "bird" / "l4lb.conf").read_text()
    values = {"LB_ADDRESS": lb_address, "LB_AS": str(lb_as), "ROUTER_ADDRESS": router_address,
              "ROUTER_AS": str(router_as), "VIPS4": vips4}
    for name, value in values.items():
        text, count = re.subn(rf"^define {name} = [^;]*;", f"define {name} = {value};", text,
                              flags=re.M)
        assert count == 1, f"packaging/bird/l4lb.conf has no `define {name}` line"
    return "log stderr all;\n" + text


def router_bird_config(router_id: str, router_as: int, peers: dict[str, tuple[str, str, int]],
                       vips4: str) -> str:
    """A router: one BGP session with BFD per l4lb host (`peers`: protocol name -> (local
    address, neighbour address, neighbour AS)), importing only VIP host routes, and their best
    routes merged into one multipath route in the kernel (ECMP)."""
    out = [f"""
log stderr all;
router id {router_id};
protocol device {{ scan time 10; }}
protocol kernel {{
    ipv4 {{ import none; export where source = RTS_BGP; }};
    merge paths on limit 16;
}}
protocol bfd {{
    interface "*" {{ min rx interval 100 ms; min tx interval 100 ms; multiplier 3; }};
}}
"""]
    for name, (local, neighbor, neighbor_as) in peers.items():
        out.append(f"""
protocol bgp {name} {{
    local {local} as {router_as};
    neighbor {neighbor} as {neighbor_as};
    hold time 3; keepalive time 1;
    connect delay time 1; connect retry time 2; error wait time 1, 10;
    bfd on;
    ipv4 {{ import where net ~ {vips4}; export none; }};
}}
""")
    return "".join(out)


class Bird:
    """One BIRD in the foreground under `wrapper` (e.g. `ip netns exec NS`), its files named
    after `name` in `workdir`."""

    def __init__(self, name: str, config: str, workdir: Path, wrapper: list[str]):
        conf = workdir / f"bird-{name}.conf"
        conf.write_text(config)
        self.socket = workdir / f"bird-{name}.ctl"
        self.log_path = workdir / f"bird-{name}.log"
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(
                child_command(wrapper + ["bird", "-f", "-c", str(conf), "-s", str(self.socket),
                                         "-P", str(workdir / f"bird-{name}.pid")]),
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)

    def birdc(self, *args: str) -> str:
        return subprocess.run(["birdc", "-s", str(self.socket), *args], capture_output=True,
                              text=True, timeout=10).stdout

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
