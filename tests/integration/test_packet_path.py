"""The packet path (forward = "dsr" | "ipip", docs/packet-path.md): an XDP program on the l4lb
host's interface forwards each packet to a backend, which answers the client directly. Real
hosts in network namespaces on one L2 segment (a bridge in its own namespace "sw"): a client
(198.51.100.2), the l4lb host (198.51.100.1, XDP on its veth), three backends (.11, .12, .13)
holding the VIPs on lo. Made and removed by the test whatever happens.

veth needs two things for XDP_TX: the peer that receives the transmitted frames (the bridge's
port facing the l4lb host) runs an XDP program of its own (xdp_pass.bpf.c, built beside l4lb: on
this kernel GRO alone was not enough, the frames were lost), and the client sends full checksums
(tx offload off), since a partial one would leave the l4lb host as it is."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from harness import (L4LB_BIN, Process, admin_get, admin_socket, api, config_toml,
                     wait_until)
from routed_hosts import Hosts, namespaces_available

HERE = Path(__file__).resolve().parent
BACKEND_SCRIPT = HERE / "packet_backend.py"
CLIENT_SCRIPT = HERE / "packet_client.py"

XDP_PASS_OBJECT = Path(L4LB_BIN).resolve().parent / "bpf" / "xdp_pass.bpf.o"

needs_hosts = pytest.mark.skipif(
    not namespaces_available() or shutil.which("ethtool") is None,
    reason="needs root, ip(8) and ethtool(8) for namespace hosts (scripts/packages.sh)")

CLIENT4, CLIENT6 = "198.51.100.2", "2001:db8:100::2"
LB4, LB6 = "198.51.100.1", "2001:db8:100::1"
BACKENDS = {"be1": ("198.51.100.11", "2001:db8:100::11"),
            "be2": ("198.51.100.12", "2001:db8:100::12"),
            "be3": ("198.51.100.13", "2001:db8:100::13")}
VIP_DSR4, VIP_IPIP4 = "203.0.113.10", "203.0.113.20"
VIP_DSR6, VIP_IPIP6 = "2001:db8:10::10", "2001:db8:10::20"
IPERF_PORT = 5201


class Segment:
    """The hosts, with each one's interface on the segment."""

    def __init__(self, hosts: Hosts):
        self.hosts = hosts
        self.iface: dict[str, str] = {}
        self.servers: dict[str, Process] = {}
        # A process that holds the l4lb host's namespaces: l4lb runs in its mount namespace
        # (lb_wrap), so the bpffs l4lb mounts there and the pins on it can be looked at after
        # l4lb ended (`ip netns exec` gives every command a fresh /sys without bpffs).
        self.lb_holder: subprocess.Popen | None = None

    def lb_wrap(self, argv: list[str]) -> list[str]:
        assert self.lb_holder is not None
        return ["nsenter", "-t", str(self.lb_holder.pid), "-m", "-n", "--", *argv]

    def lb_pins(self) -> list[str]:
        """What is pinned under /sys/fs/bpf/l4lb on the l4lb host (by interface)."""
        out = subprocess.run(self.lb_wrap(["find", "/sys/fs/bpf/l4lb", "-mindepth", "1"]),
                             capture_output=True, text=True, timeout=10)
        return sorted(out.stdout.split())

    def lb_has_xdp(self) -> bool:
        out = self.run("lb", ["ip", "-j", "link", "show", self.iface["lb"]]).stdout
        return "xdp" in json.loads(out)[0]

    def start_server(self, host: str, workdir: Path) -> None:
        self.servers[host] = Process(
            self.hosts.wrap(host, [sys.executable, str(BACKEND_SCRIPT), host]), workdir,
            f"server-{host}")

    def start_iperf(self, host: str, workdir: Path) -> None:
        self.servers[f"iperf-{host}"] = Process(
            self.hosts.wrap(host, ["iperf3", "-s", "-p", str(IPERF_PORT)]), workdir,
            f"iperf-{host}")

    def run(self, host: str, argv: list[str], check: bool = True) -> subprocess.CompletedProcess:
        return self.hosts.run(host, argv, check)

    def client(self, *args: str, timeout: float = 60) -> list[str]:
        result = subprocess.run(self.hosts.wrap("cl", [sys.executable, str(CLIENT_SCRIPT), *args]),
                                capture_output=True, text=True, timeout=timeout)
        assert result.returncode == 0, result.stderr
        return json.loads(result.stdout)

    def rx_bytes(self, host: str) -> int:
        out = self.run(host, ["ip", "-s", "-j", "link", "show", self.iface[host]]).stdout
        return json.loads(out)[0]["stats64"]["rx"]["bytes"]


@pytest.fixture(scope="module")
def segment(tmp_path_factory):
    if not namespaces_available() or shutil.which("ethtool") is None:
        pytest.skip("needs root, ip(8) and ethtool(8)")
    workdir = tmp_path_factory.mktemp("packet")
    names = ["cl", "lb", *BACKENDS, "sw"]
    with Hosts(*names) as hosts:
        seg = Segment(hosts)
        addresses = {"cl": (CLIENT4, CLIENT6), "lb": (LB4, LB6), **BACKENDS}
        for n, host in enumerate(["cl", "lb", *BACKENDS]):
            v4, v6 = addresses[host]
            hosts.link(host, [f"{v4}/24", f"{v6}/64"], "sw", [])
            seg.iface[host] = f"v{host}{n}"
        hosts.run("sw", ["ip", "link", "add", "br0", "type", "bridge"])
        for n in range(len(names) - 1):
            hosts.run("sw", ["ip", "link", "set", f"vsw{n}", "master", "br0"])
        hosts.run("sw", ["ip", "link", "set", "br0", "up"])
        # The bridge's port facing the l4lb host receives its XDP_TX'd frames: an XDP program.
        assert XDP_PASS_OBJECT.exists(), f"{XDP_PASS_OBJECT}: built with l4lb (CMakeLists.txt)"
        hosts.run("sw", ["ip", "link", "set", "dev", "vsw1", "xdpdrv", "obj",
                         str(XDP_PASS_OBJECT), "sec", "xdp"])
        hosts.run("cl", ["ethtool", "-K", seg.iface["cl"], "tx", "off"])
        for vip in (VIP_DSR4, VIP_IPIP4):
            # IPIP adds 20 bytes: the client's packets to its VIP leave room for them.
            mtu = ["mtu", "1400"] if vip == VIP_IPIP4 else []
            hosts.route("cl", f"{vip}/32", "via", LB4, *mtu)
        hosts.route("cl", f"{VIP_DSR6}/128", "via", LB6)
        hosts.route("cl", f"{VIP_IPIP6}/128", "via", LB6, "mtu", "1400")
        iface = seg.iface["lb"]
        hosts.run("lb", ["sysctl", "-qw", f"net.ipv4.conf.{iface}.forwarding=1",
                         f"net.ipv6.conf.{iface}.forwarding=1"])
        for host in BACKENDS:
            for vip in (f"{VIP_DSR4}/32", f"{VIP_IPIP4}/32", f"{VIP_DSR6}/128",
                        f"{VIP_IPIP6}/128"):
                hosts.run(host, ["ip", "addr", "add", vip, "dev", "lo"])
            # The VIP is on lo: only the l4lb host answers ARP for it.
            hosts.run(host, ["sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1",
                             "net.ipv4.conf.all.arp_announce=2"])
            seg.start_server(host, workdir)
            seg.start_iperf(host, workdir)
        seg.lb_holder = subprocess.Popen(hosts.wrap("lb", ["sleep", "3600"]))
        comm = Path(f"/proc/{seg.lb_holder.pid}/comm")
        assert wait_until(lambda: comm.read_text().strip() == "sleep", 10)  # in its namespaces
        try:
            yield seg
        finally:
            for server in seg.servers.values():
                server.stop()
            seg.lb_holder.kill()
            seg.lb_holder.wait(10)


def packet_config(listeners: list[dict], without: tuple[str, ...] = ()) -> str:
    """Pools web (IPv4), web6 and dns (UDP) of the three backends (web: but those `without`)."""
    web = {"balance": "maglev", "hash_key": "client-ip-port",
           "health": {"check": "tcp", "interval": "200ms", "rise": 1, "fall": 1},
           "backends": [{"name": h, "address": f"tcp://{v4}:80"} for h, (v4, _) in
                        BACKENDS.items() if h not in without]}
    pools = {
        "web": web,
        "web6": {"balance": "maglev", "hash_key": "client-ip-port",
                 "health": {"check": "tcp", "interval": "200ms", "rise": 1, "fall": 1},
                 "backends": [{"name": h, "address": f"tcp://[{v6}]:80"} for h, (_, v6) in
                              BACKENDS.items()]},
        "dns": {"balance": "maglev", "hash_key": "client-ip-port",
                "backends": [{"name": h, "address": f"udp://{v4}:53"} for h, (v4, _) in
                             BACKENDS.items()]},
        "dns6": {"balance": "maglev", "hash_key": "client-ip-port",
                 "backends": [{"name": h, "address": f"udp://[{v6}]:53"} for h, (_, v6) in
                              BACKENDS.items()]},
        # iperf3's control and data connections must meet one server: the client's address
        # alone picks the backend.
        "bulk": {"balance": "maglev", "hash_key": "client-ip",
                 "backends": [{"name": h, "address": f"tcp://{v4}:{IPERF_PORT}"}
                              for h, (v4, _) in BACKENDS.items()]},
    }
    return config_toml(listeners, pools, {"workers": 1})


def listener(name: str, bind: str, pool: str, forward: str, iface: str) -> dict:
    return {"name": name, "bind": bind, "pool": pool, "forward": forward, "interface": iface}


def start(l4lb, segment: Segment, text: str):
    proc = l4lb(text, wrapper=segment.lb_wrap([]))
    assert proc.wait_log(r"XDP program \d+ attached"), proc.describe()
    # Up once the checks have seen every backend (their traffic also fills the l4lb host's
    # neighbour table, which the program's route lookup needs).
    def all_in_table():
        try:
            backends = api(proc, "/packet")["backends"]
        except AssertionError:  # the admin API starts after the programs are attached
            return False
        return all(b["in_table"] for b in backends if b["pool"] in ("web", "web6"))
    assert wait_until(all_in_table, 20), api(proc, "/packet")
    return proc


def spread(answers: list[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for a in answers:
        out[a] = out.get(a, 0) + 1
    return out


@needs_hosts
def test_dsr_tcp_and_udp_over_ipv4_and_ipv6_reach_every_backend_and_replies_bypass_l4lb(
        segment, l4lb):
    iface = segment.iface["lb"]
    proc = start(l4lb, segment, packet_config([
        listener("dsr4", f"tcp://{VIP_DSR4}:80", "web", "dsr", iface),
        listener("dsr4u", f"udp://{VIP_DSR4}:53", "dns", "dsr", iface),
        listener("dsr6", f"tcp://[{VIP_DSR6}]:80", "web6", "dsr", iface),
        listener("dsr6u", f"udp://[{VIP_DSR6}]:53", "dns6", "dsr", iface),
        listener("bulk4", f"tcp://{VIP_DSR4}:{IPERF_PORT}", "bulk", "dsr", iface),
    ]))
    for vip in (VIP_DSR4, VIP_DSR6):
        answers = segment.client("names", vip, "30")
        assert set(answers) == set(BACKENDS), (vip, spread(answers), proc.describe())
    # `l4lb ctl lookup` (the API) names the backend the program picks, client port by port.
    answers = segment.client("names", VIP_DSR4, "20", "41000")
    for i, answer in enumerate(answers):
        looked_up = api(proc, f"/pools/web/lookup?client={CLIENT4}:{41000 + i}")
        assert looked_up["packet_path"] and looked_up["backend"]["name"] == answer, looked_up
    for vip in (VIP_DSR4, VIP_DSR6):
        answers = segment.client("udp", vip, "30")
        assert set(answers) == set(BACKENDS), (vip, spread(answers))
    # wrk: keep-alive requests over a few connections, none failing.
    wrk = segment.run("cl", ["wrk", "-t1", "-c8", "-d1s", f"http://{VIP_DSR4}/name"]).stdout
    assert "Requests/sec" in wrk and "Socket errors" not in wrk and "Non-2xx" not in wrk, wrk
    # iperf3, the server sending (-R): its bytes reach the client without crossing l4lb.
    before = segment.rx_bytes("lb")
    iperf = json.loads(segment.run("cl", ["iperf3", "-c", VIP_DSR4, "-p", str(IPERF_PORT),
                                          "-R", "-t", "1", "-J"]).stdout)
    received = iperf["end"]["sum_received"]["bytes"]
    assert received > 1 << 20, iperf["end"]
    assert segment.rx_bytes("lb") - before < received // 4, (before, received)
    # curl, and the reply's 4 MiB never cross the l4lb host's interface.
    before = segment.rx_bytes("lb")
    result = segment.run("cl", ["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download}",
                                f"http://{VIP_DSR4}/big"])
    after = segment.rx_bytes("lb")
    assert int(result.stdout) == 4 << 20
    assert after - before < 1 << 20, (before, after)
    numbers = api(proc, "/packet")
    vips = {v["listener"]: v for v in numbers["vips"]}
    assert vips["dsr4"]["counters"]["new_flows"] >= 31
    assert vips["dsr4u"]["counters"]["packets"] >= 30
    assert vips["dsr6"]["counters"]["new_flows"] >= 30
    assert vips["dsr6u"]["counters"]["packets"] >= 30
    backends = [b for b in numbers["backends"] if b["pool"] == "web"]
    assert sum(b["counters"]["new_flows"] for b in backends) == vips["dsr4"]["counters"]["new_flows"]
    assert all(b["counters"]["packets"] > 0 and b["counters"]["bytes"] > 0 for b in backends)
    text = admin_get(proc, "/metrics")
    for family in ("packets", "bytes", "new_flows", "conn_misses"):
        assert f'l4lb_packet_vip_{family}_total{{listener="dsr4"' in text, family
        assert f'l4lb_packet_backend_{family}_total{{interface="{iface}",pool="web",' \
               f'backend="be1"}}' in text, family
    shown = ctl_output(proc, "packet")
    assert "dsr6u" in shown and "NEW FLOWS" in shown, shown
    dashboard = api(proc, "/dashboard")["packet"]
    assert {v["listener"] for v in dashboard["vips"]} >= {"dsr4", "dsr4u", "dsr6", "dsr6u"}


@needs_hosts
def test_ipip_with_l4lb_decap_on_the_backends(segment, l4lb, workdir, processes):
    iface = segment.iface["lb"]
    for host in BACKENDS:
        decap = Process(segment.hosts.wrap(host, [L4LB_BIN, "decap", "--interface",
                                                  segment.iface[host]]), workdir, f"decap-{host}")
        processes.append(decap)
        assert wait_until(lambda: "stripping" in decap.log(), 10), decap.log()
    proc = start(l4lb, segment, packet_config([
        listener("ipip4", f"tcp://{VIP_IPIP4}:80", "web", "ipip", iface),
        listener("ipip6", f"tcp://[{VIP_IPIP6}]:80", "web6", "ipip", iface)]))
    for vip in (VIP_IPIP4, VIP_IPIP6):
        answers = segment.client("names", vip, "30")
        assert set(answers) == set(BACKENDS), (vip, spread(answers), proc.describe())
    before = segment.rx_bytes("lb")
    result = segment.run("cl", ["curl", "-sS", "-o", "/dev/null", "-w", "%{size_download}",
                                f"http://{VIP_IPIP4}/big"])
    assert int(result.stdout) == 4 << 20
    assert segment.rx_bytes("lb") - before < 1 << 20
    for p in processes:
        p.stop(signal.SIGTERM)
        assert "detached" in p.log(), p.log()


class HeldConnections:
    """`count` keep-alive connections from the client to `vip`:80, one request on each every
    0.2 s (packet_client.py hold) until stop(); their first answers, then how each ended."""

    def __init__(self, segment: Segment, workdir: Path, vip: str, count: int = 200):
        self.stop_file, self.out = workdir / "stop", workdir / "held.json"
        self.stop_file.unlink(missing_ok=True)
        self.proc = subprocess.Popen(
            segment.hosts.wrap("cl", [sys.executable, str(CLIENT_SCRIPT), "hold", vip, str(count),
                                      str(self.stop_file), str(self.out)]),
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        ready = Path(str(self.out) + ".ready")
        assert wait_until(ready.exists, 60), "the client did not open its connections"
        self.first = json.loads(ready.read_text())

    def rounds(self) -> int:
        path = Path(str(self.out) + ".round")
        return int(path.read_text()) if path.exists() else 0

    def carry_on(self, more: int = 3) -> int:
        """Waits until every connection had `more` further rounds of requests; the number of
        requests each one that never failed has answered by then."""
        target = self.rounds() + more
        assert wait_until(lambda: self.rounds() >= target, 60), "the client stopped going round"
        return 1 + target

    def stop(self) -> list[dict]:
        self.stop_file.write_text("")
        self.proc.wait(150)
        return json.loads(self.out.read_text())

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


def ctl_output(proc, *args: str) -> str:
    result = subprocess.run([L4LB_BIN, "ctl", "--socket", admin_socket(proc), *args],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def ctl(proc, *args: str) -> None:
    ctl_output(proc, *args)


def new_flows_avoid(segment: Segment, avoided: set[str]) -> dict[str, int]:
    answers = segment.client("names", VIP_DSR4, "30")
    counts = spread(answers)
    assert set(counts) <= set(BACKENDS) - avoided, counts
    return counts


@needs_hosts
def test_backend_drained_reweighted_stopped_and_removed_under_200_long_lived_flows(
        segment, l4lb, workdir):
    """200 keep-alive connections through a dsr VIP, one request on each every 0.2 s, while be1
    is drained and enabled, be2 re-weighted, be3's server stopped (its checks fail) and be2
    removed by a reload: the connections on the backends that still run never see an error or
    another backend, and new flows go where the table says."""
    iface = segment.iface["lb"]
    text = packet_config([listener("dsr4", f"tcp://{VIP_DSR4}:80", "web", "dsr", iface)])
    proc = start(l4lb, segment, text)
    held = HeldConnections(segment, workdir, VIP_DSR4)
    stopped_server = None
    try:
        first = held.first
        assert all(e["error"] is None for e in first), first
        assert set(spread([e["backend"] for e in first])) == set(BACKENDS), first

        ctl(proc, "drain", "web", "be1")
        assert wait_until(lambda: not backend_in_table(proc, "be1"), 10)
        new_flows_avoid(segment, {"be1"})
        ctl(proc, "enable", "web", "be1")
        assert wait_until(lambda: backend_in_table(proc, "be1"), 10)

        ctl(proc, "weight", "web", "be2", "5")
        counts = new_flows_avoid(segment, set())
        assert counts.get("be2", 0) > 0, counts

        # be3's server stops: its checks fail, it leaves the table and is flagged down.
        segment.servers["be3"].stop()
        stopped_server = "be3"
        assert wait_until(lambda: backend_down(proc, "be3"), 20), api(proc, "/packet")
        new_flows_avoid(segment, {"be3"})

        # A reload without be2: it takes no new flow; its open flows go on (drain).
        config_path = Path(proc.args[proc.args.index("-c") + 1])
        old = config_path.read_text()
        listeners = [listener("dsr4", f"tcp://{VIP_DSR4}:80", "web", "dsr", iface)]
        config_path.write_text(packet_config(listeners, without=("be2",)) +
                               old[old.index("\n[admin]"):])
        proc.send_signal(signal.SIGHUP)
        assert proc.wait_log(r"reloaded .*-backend"), proc.describe()
        new_flows_avoid(segment, {"be2", "be3"})
        answered = held.carry_on()  # a few more rounds of requests on every held connection
        ended = held.stop()
    finally:
        held.kill()
        if stopped_server is not None:
            segment.start_server(stopped_server, workdir)
    broken = [e for e in ended if e["backend"] != "be3" and e["error"] is not None]
    assert broken == [], broken[:5]
    # Every connection on a backend that kept running answered in every round.
    assert all(e["answered"] >= answered for e in ended if e["backend"] != "be3"), ended[:5]
    numbers = api(proc, "/packet")
    backends = {b["backend"]: b for b in numbers["backends"] if b["pool"] == "web"}
    assert not backends["be2"]["in_table"] and not backends["be3"]["in_table"], backends
    assert backends["be1"]["in_table"], backends


def backend_in_table(proc, name: str) -> bool:
    return any(b["backend"] == name and b["pool"] == "web" and b["in_table"]
               for b in api(proc, "/packet")["backends"])


def backend_down(proc, name: str) -> bool:
    return any(b["backend"] == name and b["pool"] == "web" and b["down"] and not b["in_table"]
               for b in api(proc, "/packet")["backends"])



def process_gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"


@needs_hosts
def test_binary_upgrade_under_200_long_lived_flows_then_stop_detaches_and_unpins(
        segment, l4lb, workdir):
    """SIGUSR2 while 200 keep-alive connections go through a dsr VIP: the new process takes over
    the pinned link, connection table and backend indexes and swaps its program in; no
    connection sees an error or another backend. Stopping the new process (no upgrade) detaches
    the program and removes every pin."""
    iface = segment.iface["lb"]
    proc = start(l4lb, segment, packet_config([
        listener("dsr4", f"tcp://{VIP_DSR4}:80", "web", "dsr", iface)]))
    assert segment.lb_pins() == [f"/sys/fs/bpf/l4lb/{iface}", *(
        f"/sys/fs/bpf/l4lb/{iface}/{pin}" for pin in ("backends", "conns", "link"))]
    old_program = api(proc, "/packet")["interfaces"][0]["program_id"]
    held = HeldConnections(segment, workdir, VIP_DSR4)
    new_pid = None
    try:
        assert all(e["error"] is None for e in held.first), held.first
        proc.send_signal(signal.SIGUSR2)
        started = proc.wait_log(r"SIGUSR2: started .* \(pid (\d+)\) to take over", 10)
        assert started is not None, proc.describe()
        new_pid = int(started.group(1))
        assert proc.wait(30) == 0, proc.describe()
        # The new process (same admin socket) serves with its own program, on the old maps.
        assert api(proc, "/status")["pid"] == new_pid
        numbers = api(proc, "/packet")
        assert numbers["interfaces"][0]["program_id"] != old_program, numbers
        assert re.search(r"its connection table and 3 backend indexes", proc.stderr()), \
            proc.describe()
        assert re.search(r"XDP program \d+ took over; leaving it attached", proc.stderr())
        assert segment.lb_has_xdp()
        assert set(segment.client("names", VIP_DSR4, "30")) == set(BACKENDS)
        answered = held.carry_on()  # a few more rounds of requests on every held connection
        ended = held.stop()
        broken = [e for e in ended if e["error"] is not None]
        assert broken == [], broken[:5]
        assert all(e["answered"] >= answered for e in ended), ended[:5]

        # A stop that is not an upgrade: nothing of the packet path stays.
        os.kill(new_pid, signal.SIGTERM)
        assert wait_until(lambda: process_gone(new_pid), 30), f"pid {new_pid} did not stop"
        assert re.search(r"XDP program \d+ detached from", proc.stderr()), proc.describe()
        assert not segment.lb_has_xdp()
        assert segment.lb_pins() == []
    finally:
        held.kill()
        if new_pid is not None and not process_gone(new_pid):
            os.kill(new_pid, signal.SIGKILL)
