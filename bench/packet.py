#!/usr/bin/env python3
"""The packet-path benchmark (issue 17): the same client and backends, in network namespaces,
behind seven ways of balancing on one "lb" host, in one run (docs/packet-path-bench.md).

  bench/packet.py [--seconds N] [--rounds N] [--variants V0,V1,...] [--nice N] [--out FILE]
                  [--quick] [--keep-tmp]

  V0 direct   client routed straight to one backend (no lb host on the path)
  V1 router   the lb host as a plain kernel router in front of a backend holding the VIP
  V2 nft      nftables DNAT on the lb host, jhash over the backends (replies route back via lb)
  V3 haproxy  HAProxy mode tcp on the lb host
  V4 proxy    l4lb's proxy path on the lb host
  V5 dsr      l4lb forward = "dsr" (XDP, L2 direct server return)
  V6 ipip     l4lb forward = "ipip" (XDP, IPIP; backends run `l4lb decap`)

Topology (documentation ranges): cli 198.51.100.2 -- rt 198.51.100.1 | 203.0.113.1 -- sw (a
bridge) -- lb 203.0.113.10, be1..be3 203.0.113.11..13. VIP 192.0.2.10 (TCP 80: HTTP, 5201: iperf3).
Backends hold the VIP on lo (arp_ignore=1, arp_announce=2) and answer the client through rt
(except V2, whose replies must pass the NAT on lb, and V3/V4, which connect from lb).

CPU: every process of the benchmark (client, backends, the lb host's daemon) runs at the same
nice value, unpinned, on both CPUs, in one cgroup of its own; softirq work on veth runs in the
sending task's context, so it is charged to that cgroup too. CPU per request is that cgroup's
usage plus ksoftirqd's time over the cell, divided by the requests served. Root only.
Every namespace, process, cgroup, nft table and sysctl this script changes is undone on exit.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO_DIR = BENCH_DIR.parent

VIP = "192.0.2.10"
CLIENT_NET = "198.51.100.0/24"
CLI_ADDR, RT_CLI_ADDR = "198.51.100.2", "198.51.100.1"
RT_FAB_ADDR, LB_ADDR = "203.0.113.1", "203.0.113.10"
BACKENDS = {"be1": "203.0.113.11", "be2": "203.0.113.12", "be3": "203.0.113.13"}
HTTP_PORT, IPERF_PORT = 80, 5201
FABRIC_MTU = 1520

VARIANTS = {
    "V0": "direct", "V1": "router", "V2": "nft", "V3": "haproxy", "V4": "proxy",
    "V5": "dsr", "V6": "ipip",
}
WORKLOADS = ["keepalive", "close", "latency", "iperf3"]
LATENCY_CONNS, LATENCY_DELAY_MS = 10, 2  # wrk's delay(): each connection waits 2 ms per request


def log(msg: str) -> None:
    print(f"[packet {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh(argv: list[str], check: bool = True, timeout: float = 30) -> subprocess.CompletedProcess:
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout)
    if check and r.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed ({r.returncode}): {r.stdout}{r.stderr}")
    return r


class Bench:
    def __init__(self, args):
        self.args = args
        self.tag = str(os.getpid() % 100000)
        self.ns = {h: f"l4pb{self.tag}{h}" for h in ["cli", "rt", "sw", "lb", *BACKENDS]}
        self.tmp = Path(tempfile.mkdtemp(prefix="l4lb-packet."))
        os.chmod(self.tmp, 0o755)  # nginx workers run as nobody
        self.cgroup = cgroup_dir(f"l4lb-packet-{self.tag}")
        self.procs: dict[str, subprocess.Popen] = {}
        self.sysctl_restore: dict[str, str] = {}
        self.notes: list[str] = []
        self.l4lb = Path(os.environ.get("L4LB_BIN", REPO_DIR / "build" / "l4lb"))

    # ----------------------------------------------------------------------------------------
    # namespaces and processes

    def run(self, host: str, argv: list[str], check: bool = True, timeout: float = 30):
        return sh(["ip", "netns", "exec", self.ns[host], *argv], check=check, timeout=timeout)

    def _enter_cgroup(self) -> None:  # preexec_fn: the child and all it starts are accounted
        (self.cgroup / "cgroup.procs").write_text(str(os.getpid()))

    def spawn(self, name: str, host: str, argv: list[str]) -> subprocess.Popen:
        out = open(self.tmp / f"{name}.out", "w")
        err = open(self.tmp / f"{name}.err", "w")
        p = subprocess.Popen(["ip", "netns", "exec", self.ns[host], "nice", "-n",
                              str(self.args.nice), *argv], stdout=out, stderr=err,
                             preexec_fn=self._enter_cgroup, start_new_session=True)
        self.procs[name] = p
        return p

    def stop(self, name: str) -> None:
        p = self.procs.pop(name, None)
        if p is None:
            return
        for sig, wait in ((signal.SIGTERM, 5), (signal.SIGKILL, 5)):
            try:
                os.killpg(p.pid, sig)
            except ProcessLookupError:
                break
            try:
                p.wait(wait)
                break
            except subprocess.TimeoutExpired:
                continue

    def client(self, argv: list[str], limit: float) -> str:
        """A bounded client run in cli, in the benchmark's cgroup; its stdout."""
        r = subprocess.run(["timeout", "-k", "5", str(int(limit)), "ip", "netns", "exec",
                            self.ns["cli"], "nice", "-n", str(self.args.nice), *argv],
                           capture_output=True, text=True, timeout=limit + 15,
                           preexec_fn=self._enter_cgroup)
        if r.returncode != 0:
            raise RuntimeError(f"{argv[0]} exited {r.returncode}: {r.stderr.strip()[:300]}")
        return r.stdout

    def wait_listen(self, host: str, port: int, name: str, seconds: float = 10) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.run(host, ["ss", "-Htln", f"sport = :{port}"], check=False).stdout.strip():
                return
            if name in self.procs and self.procs[name].poll() is not None:
                break
            time.sleep(0.1)
        err = (self.tmp / f"{name}.err").read_text()[-500:] if name in self.procs else ""
        raise RuntimeError(f"{name} is not listening on {host}:{port}: {err}")

    def sysctl(self, key: str, value: str) -> None:
        """A global (not per-namespace) sysctl, restored on exit."""
        if key not in self.sysctl_restore:
            self.sysctl_restore[key] = sh(["sysctl", "-n", key]).stdout.strip()
        sh(["sysctl", "-qw", f"{key}={value}"])

    def close(self) -> None:
        for name in list(self.procs):
            self.stop(name)
        for ns in self.ns.values():
            for pid in sh(["ip", "netns", "pids", ns], check=False).stdout.split():
                sh(["kill", "-9", pid], check=False)
            sh(["ip", "netns", "del", ns], check=False)
        for key, value in self.sysctl_restore.items():
            sh(["sysctl", "-qw", f"{key}={value}"], check=False)
        if self.cgroup.exists():
            for pid in (self.cgroup / "cgroup.procs").read_text().split():
                try:
                    os.kill(int(pid), signal.SIGKILL)
                except ProcessLookupError:
                    pass
            for _ in range(50):
                try:
                    self.cgroup.rmdir()
                    break
                except OSError:
                    time.sleep(0.1)
        if self.args.keep_tmp:
            log(f"kept {self.tmp}")
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)

    # ----------------------------------------------------------------------------------------
    # topology

    def link(self, a: str, a_if: str, b: str, b_if: str) -> None:
        ta, tb = f"pb{self.tag}{a_if}"[:15], f"pb{self.tag}{b_if}x"[:15]
        sh(["ip", "link", "add", ta, "type", "veth", "peer", "name", tb])
        for tmp, host, name in ((ta, a, a_if), (tb, b, b_if)):
            sh(["ip", "link", "set", tmp, "netns", self.ns[host]])
            self.run(host, ["ip", "link", "set", tmp, "name", name])

    def build_topology(self) -> None:
        self.cgroup.mkdir(exist_ok=True)
        for host, ns in self.ns.items():
            sh(["ip", "netns", "add", ns])
            self.run(host, ["ip", "link", "set", "lo", "up"])
            for key in ("all", "default"):
                self.run(host, ["sysctl", "-qw", f"net.ipv4.conf.{key}.rp_filter=0",
                                f"net.ipv4.conf.{key}.send_redirects=0",
                                f"net.ipv4.conf.{key}.accept_redirects=0"])
        self.link("cli", "eth0", "rt", "c0")
        self.link("rt", "fab", "sw", "prt")
        self.link("lb", "eth0", "sw", "plb")
        for be in BACKENDS:
            self.link(be, "eth0", "sw", f"p{be}")
        # The segment behind rt carries 20 bytes more than the client's link, so an IPIP-wrapped
        # full-size packet still fits (V6); the same for every variant.
        ports = ["prt", "plb", *(f"p{be}" for be in BACKENDS)]
        for host, dev in (("rt", "fab"), ("lb", "eth0"), *((be, "eth0") for be in BACKENDS),
                          *(("sw", port) for port in ports)):
            self.run(host, ["ip", "link", "set", dev, "mtu", str(FABRIC_MTU)])
        # sw: a plain switch (a bridge with no address; bridged frames skip netfilter).
        sw = lambda *a: self.run("sw", list(a))
        sw("ip", "link", "add", "br0", "mtu", str(FABRIC_MTU), "type", "bridge")
        for port in ports:
            sw("ip", "link", "set", port, "master", "br0")
            sw("ip", "link", "set", port, "up")
        sw("ip", "link", "set", "br0", "up")
        self.run("sw", ["sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0",
                        "net.bridge.bridge-nf-call-ip6tables=0",
                        "net.bridge.bridge-nf-call-arptables=0"], check=False)
        rt = lambda *a: self.run("rt", list(a))
        rt("ip", "addr", "add", f"{RT_CLI_ADDR}/24", "dev", "c0")
        rt("ip", "addr", "add", f"{RT_FAB_ADDR}/24", "dev", "fab")
        rt("ip", "link", "set", "c0", "up")
        rt("ip", "link", "set", "fab", "up")
        rt("sysctl", "-qw", "net.ipv4.ip_forward=1")
        self.run("cli", ["ip", "addr", "add", f"{CLI_ADDR}/24", "dev", "eth0"])
        self.run("cli", ["ip", "link", "set", "eth0", "up"])
        self.run("cli", ["ip", "route", "add", "default", "via", RT_CLI_ADDR])
        # Connection: close opens ~10^5 connections from one address: reuse TIME_WAIT ports.
        self.run("cli", ["sysctl", "-qw", "net.ipv4.tcp_tw_reuse=1"])
        self.run("cli", ["sysctl", "-qw", "net.ipv4.ip_local_port_range=1024 65000"])
        for host, addr in (("lb", LB_ADDR), *BACKENDS.items()):
            self.run(host, ["ip", "addr", "add", f"{addr}/24", "dev", "eth0"])
            self.run(host, ["ip", "link", "set", "eth0", "up"])
            self.run(host, ["ip", "route", "add", "default", "via", RT_FAB_ADDR])
        self.run("lb", ["sysctl", "-qw", "net.ipv4.ip_forward=1"])
        for be in BACKENDS:
            self.run(be, ["ip", "addr", "add", f"{VIP}/32", "dev", "lo"])
            self.run(be, ["sysctl", "-qw", "net.ipv4.conf.all.arp_ignore=1",
                          "net.ipv4.conf.all.arp_announce=2", "net.ipv4.conf.eth0.arp_ignore=1",
                          "net.ipv4.conf.eth0.arp_announce=2"])
        # veth + XDP (docs/packet-path-bench.md): frames the lb host sends with XDP_TX land on
        # the switch's port plb, which must run NAPI to take them: GRO on here, for every
        # variant, and in V5/V6 also a dummy XDP program (attach_pass_program), without which
        # this kernel drops them. veth leaves checksums partial, so the client and rt compute
        # them in software.
        sw("ethtool", "-K", "plb", "gro", "on")
        rt("ethtool", "-K", "fab", "tx", "off")
        self.run("cli", ["ethtool", "-K", "eth0", "tx", "off"])
        # Let every neighbour be known before measuring.
        for host, addr in (("cli", RT_CLI_ADDR), ("lb", RT_FAB_ADDR), *(
                (be, RT_FAB_ADDR) for be in BACKENDS)):
            self.run(host, ["ping", "-c1", "-W2", addr], check=False)
        for addr in (LB_ADDR, *BACKENDS.values()):
            self.run("rt", ["ping", "-c1", "-W2", addr], check=False)
            self.run("lb", ["ping", "-c1", "-W2", addr], check=False)

    def start_backends(self) -> None:
        for be in BACKENDS:
            conf = self.tmp / f"nginx-{be}.conf"
            root = self.tmp / f"nginx-{be}"
            root.mkdir()
            conf.write_text(f"""# HTTP backend {be}: answers with its own name.
worker_processes 1;
worker_rlimit_nofile 20000;
error_log {root}/error.log warn;
pid {root}/nginx.pid;
events {{ worker_connections 10000; }}
http {{
  access_log off;
  keepalive_requests 10000000;
  client_body_temp_path {root}/body;
  proxy_temp_path {root}/proxy;
  fastcgi_temp_path {root}/fastcgi;
  uwsgi_temp_path {root}/uwsgi;
  scgi_temp_path {root}/scgi;
  server {{
    listen {HTTP_PORT} backlog=4096 reuseport;
    location / {{ default_type text/plain; return 200 "{be}\\n"; }}
  }}
}}
""")
            self.spawn(f"nginx-{be}", be, ["nginx", "-p", str(root), "-c", str(conf), "-e",
                                           str(root / "error.log"), "-g", "daemon off;"])
            self.spawn(f"iperf3-{be}", be, ["iperf3", "-s", "-p", str(IPERF_PORT)])
        for be in BACKENDS:
            self.wait_listen(be, HTTP_PORT, f"nginx-{be}")
            self.wait_listen(be, IPERF_PORT, f"iperf3-{be}")

    # ----------------------------------------------------------------------------------------
    # variants: set up on the lb host (and routes), torn down after

    def route_vip(self, via: str) -> None:
        self.run("rt", ["ip", "route", "replace", f"{VIP}/32", "via", via])

    def setup(self, v: str) -> None:
        kind = VARIANTS[v]
        if kind == "direct":
            self.route_vip(BACKENDS["be1"])
            return
        self.route_vip(LB_ADDR)
        if kind == "router":
            self.run("lb", ["ip", "route", "replace", f"{VIP}/32", "via", BACKENDS["be1"]])
        elif kind == "nft":
            hosts = ", ".join(f"{i} : {a}" for i, a in enumerate(BACKENDS.values()))
            rules = self.tmp / "nft.conf"
            rules.write_text(f"""table ip pbench {{
  chain pre {{
    type nat hook prerouting priority dstnat; policy accept;
    ip daddr {VIP} tcp dport {HTTP_PORT} dnat to jhash ip saddr . tcp sport mod {len(BACKENDS)} map {{ {hosts} }}
    ip daddr {VIP} tcp dport {IPERF_PORT} dnat to {BACKENDS['be1']}
  }}
}}
""")
            self.run("lb", ["nft", "-f", str(rules)])
            for be in BACKENDS:  # the NAT's replies must pass the lb host to be undone
                self.run(be, ["ip", "route", "replace", CLIENT_NET, "via", LB_ADDR])
        elif kind in ("haproxy", "proxy"):
            self.run("lb", ["ip", "addr", "add", f"{VIP}/32", "dev", "lo"])
            if kind == "haproxy":
                self.start_haproxy()
            else:
                self.start_l4lb(self.proxy_config(), "l4lb-proxy")
        elif kind in ("dsr", "ipip"):
            self.start_packet(kind)

    def teardown(self, v: str) -> None:
        kind = VARIANTS[v]
        for name in ("haproxy", "l4lb-proxy", "l4lb-dsr", "l4lb-ipip"):
            self.stop(name)
        for be in BACKENDS:
            self.stop(f"decap-{be}")
        if kind in ("dsr", "ipip"):
            self.run("sw", ["ip", "link", "set", "dev", "plb", "xdpdrv", "off"], check=False)
        self.run("lb", ["ip", "route", "del", f"{VIP}/32"], check=False)
        self.run("lb", ["ip", "addr", "del", f"{VIP}/32", "dev", "lo"], check=False)
        if kind == "nft":
            self.run("lb", ["nft", "delete", "table", "ip", "pbench"], check=False)
            for be in BACKENDS:
                self.run(be, ["ip", "route", "del", CLIENT_NET], check=False)
            if shutil.which("conntrack"):  # the next round's V2 starts from an empty table
                self.run("lb", ["conntrack", "-F"], check=False)

    def threads(self) -> int:
        return min(os.cpu_count() or 2, 2)

    def start_haproxy(self) -> None:
        servers = "\n".join(f"  server {be} {a}:{HTTP_PORT}" for be, a in BACKENDS.items())
        cfg = self.tmp / "haproxy.cfg"
        cfg.write_text(f"""global
  nbthread {self.threads()}
  maxconn 8000
  tune.bufsize 16384
  maxpipes 1000
defaults
  mode tcp
  option splice-auto
  timeout connect 2s
  timeout client 10m
  timeout server 10m
listen http
  bind {VIP}:{HTTP_PORT}
  balance roundrobin
{servers}
listen iperf
  bind {VIP}:{IPERF_PORT}
  server be1 {BACKENDS['be1']}:{IPERF_PORT}
""")
        self.spawn("haproxy", "lb", ["haproxy", "-f", str(cfg), "-db"])
        self.wait_listen("lb", HTTP_PORT, "haproxy")

    def proxy_config(self) -> str:
        backends = ", ".join(f'{{ address = "tcp://{a}:{HTTP_PORT}" }}' for a in BACKENDS.values())
        return f"""[global]
workers = {self.threads()}
log_level = "warn"
access_log = "off"

[admin]
listen = ["unix://{self.tmp}/l4lb-admin.sock"]

[[listener]]
name = "http"
bind = "tcp://{VIP}:{HTTP_PORT}"
pool = "http"

[[listener]]
name = "iperf"
bind = "tcp://{VIP}:{IPERF_PORT}"
pool = "iperf"

[pool.http]
balance = "maglev"
backends = [ {backends} ]

[pool.iperf]
balance = "maglev"
backends = [ {{ address = "tcp://{BACKENDS['be1']}:{IPERF_PORT}" }} ]
"""

    def start_l4lb(self, config: str, name: str) -> None:
        path = self.tmp / f"{name}.toml"
        path.write_text(config)
        check = sh([str(self.l4lb), "check", "-c", str(path)], check=False)
        if check.returncode != 0:
            raise RuntimeError(f"l4lb check rejected {path}: {check.stdout}{check.stderr}")
        self.spawn(name, "lb", [str(self.l4lb), "run", "-c", str(path)])

    # The packet path (V5, V6): docs/packet-path.md. The XDP program on lb's eth0 takes the VIP's
    # packets; backends hold the VIP on lo already; for ipip each backend runs `l4lb decap`.
    def packet_config(self, kind: str) -> str:
        backends = ", ".join(f'{{ name = "{be}", address = "tcp://{a}:{HTTP_PORT}" }}'
                             for be, a in BACKENDS.items())
        return f"""[global]
workers = 1
log_level = "warn"
access_log = "off"

[admin]
listen = ["unix://{self.tmp}/l4lb-{kind}-admin.sock"]

[[listener]]
name = "http"
bind = "tcp://{VIP}:{HTTP_PORT}"
pool = "http"
forward = "{kind}"
interface = "eth0"

[[listener]]
name = "iperf"
bind = "tcp://{VIP}:{IPERF_PORT}"
pool = "iperf"
forward = "{kind}"
interface = "eth0"

[pool.http]
balance = "maglev"
health = {{ check = "tcp", interval = "1s" }}
backends = [ {backends} ]

[pool.iperf]
balance = "maglev"
health = {{ check = "tcp", interval = "1s" }}
backends = [ {{ name = "be1", address = "tcp://{BACKENDS['be1']}:{IPERF_PORT}" }} ]
"""

    def packet_supported(self) -> str | None:
        """None when this l4lb takes a packet-path config (checked inside lb), else why not."""
        path = self.tmp / "probe-dsr.toml"
        path.write_text(self.packet_config("dsr"))
        r = self.run("lb", [str(self.l4lb), "check", "-c", str(path)], check=False)
        if r.returncode != 0:
            return f"this l4lb rejects forward = \"dsr\": {(r.stdout + r.stderr).strip()[:200]}"
        return None

    def attach_pass_program(self) -> None:
        """The dummy XDP_PASS program on sw's port facing lb (V5/V6 only: on veth it turns off
        GSO on lb's eth0, which the other variants should not pay for)."""
        obj = self.tmp / "xdp_pass.o"
        if not obj.exists():
            sh(["clang", "-O2", "-target", "bpf", "-c", str(BENCH_DIR / "xdp_pass.bpf.c"), "-o",
                str(obj)])
        self.run("sw", ["ip", "link", "set", "dev", "plb", "xdpdrv", "obj", str(obj), "sec", "xdp"])

    def start_packet(self, kind: str) -> None:
        self.attach_pass_program()
        if kind == "ipip":
            for be in BACKENDS:
                self.spawn(f"decap-{be}", be, [str(self.l4lb), "decap", "--interface", "eth0"])
        name = f"l4lb-{kind}"
        path = self.tmp / f"{name}.toml"
        path.write_text(self.packet_config(kind))
        self.spawn(name, "lb", [str(self.l4lb), "run", "-c", str(path)])
        # Up when the program is attached to lb's eth0 and the backends' checks have passed.
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.procs[name].poll() is not None:
                raise RuntimeError(f"{name} exited: {(self.tmp / f'{name}.err').read_text()[-400:]}")
            link = self.run("lb", ["ip", "-d", "link", "show", "eth0"], check=False).stdout
            decap_ok = kind != "ipip" or all(
                "xdp" in self.run(be, ["ip", "link", "show", "eth0"], check=False).stdout
                for be in BACKENDS)
            if "xdp" in link and decap_ok:
                ok = self.run("cli", ["curl", "-sS", "--max-time", "1",
                                      f"http://{VIP}:{HTTP_PORT}/"], check=False)
                if ok.returncode == 0 and ok.stdout.startswith("be"):
                    return
            time.sleep(0.3)
        raise RuntimeError(f"{name}: the VIP did not answer through the packet path in 20 s: "
                           f"{(self.tmp / f'{name}.err').read_text()[-400:]}")

    def variant_available(self, v: str) -> str | None:
        """None when the variant can run, else why not."""
        kind = VARIANTS[v]
        if kind == "haproxy" and not shutil.which("haproxy"):
            return "haproxy is not installed"
        if kind in ("proxy", "dsr", "ipip") and not os.access(self.l4lb, os.X_OK):
            return f"no l4lb binary at {self.l4lb}"
        if kind in ("dsr", "ipip") and not shutil.which("clang"):
            return "clang is not installed (it builds bench/xdp_pass.bpf.c)"
        if kind in ("dsr", "ipip"):
            return self.packet_supported()
        return None

    # ----------------------------------------------------------------------------------------
    # measuring

    def cpu_snapshot(self) -> dict:
        ks = 0
        for pid in os.listdir("/proc"):
            if not pid.isdigit():
                continue
            try:
                stat = Path(f"/proc/{pid}/stat").read_text()
            except OSError:
                continue
            comm = stat[stat.index("(") + 1:stat.rindex(")")]
            if comm.startswith("ksoftirqd/"):
                fields = stat[stat.rindex(")") + 2:].split()
                ks += int(fields[11]) + int(fields[12])
        box = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
        return {
            "cgroup_ns": cgroup_usage_ns(self.cgroup),
            "ksoftirqd_ticks": ks,
            "box_busy_ticks": sum(box) - box[3] - box[4],
            "box_softirq_ticks": box[6],
            "t": time.monotonic(),
        }

    def cpu_delta(self, a: dict, b: dict) -> dict:
        hz = os.sysconf("SC_CLK_TCK")
        wall = b["t"] - a["t"]
        ours = (b["cgroup_ns"] - a["cgroup_ns"]) / 1e9 + \
            (b["ksoftirqd_ticks"] - a["ksoftirqd_ticks"]) / hz
        box = (b["box_busy_ticks"] - a["box_busy_ticks"]) / hz
        return {"wall": wall, "ours_cpu_s": ours, "box_cpu_s": box,
                "box_softirq_s": (b["box_softirq_ticks"] - a["box_softirq_ticks"]) / hz}

    def wrk(self, extra: list[str], conns: int, threads: int) -> dict:
        secs = self.args.seconds
        out = self.client(["wrk", f"-t{threads}", f"-c{conns}", f"-d{secs}s", "--latency",
                           *extra, f"http://{VIP}:{HTTP_PORT}/"], secs + 30)
        return parse_wrk(out)

    def cell(self, v: str, workload: str) -> dict:
        before = self.cpu_snapshot()
        if workload == "keepalive":
            r = self.wrk([], 50, 2)
        elif workload == "close":
            r = self.wrk(["-H", "Connection: close"], 50, 2)
        elif workload == "latency":
            r = self.wrk(["-s", str(self.tmp / "delay.lua")], LATENCY_CONNS, 1)
        else:
            r = self.iperf3()
        after = self.cpu_snapshot()
        r.update(self.cpu_delta(before, after))
        if r.get("requests"):
            r["us_per_req"] = r["ours_cpu_s"] / r["requests"] * 1e6
            r["box_us_per_req"] = r["box_cpu_s"] / r["requests"] * 1e6
        return r

    def iperf3(self) -> dict:
        last = ""
        for attempt in range(3):
            try:
                out = self.client(["iperf3", "-c", VIP, "-p", str(IPERF_PORT), "-t",
                                   str(self.args.seconds), "--connect-timeout", "3000", "-J"],
                                  self.args.seconds + 30)
                j = json.loads(out)
                if "error" not in j:
                    return {"gbps": j["end"]["sum_received"]["bits_per_second"] / 1e9,
                            "retransmits": j["end"]["sum_sent"].get("retransmits", 0)}
                last = j["error"]
            except (RuntimeError, ValueError, KeyError) as e:
                last = str(e)
            time.sleep(1)
        raise RuntimeError(f"iperf3: {last}")

    def bpf_stats_cell(self, v: str) -> dict:
        """ns per packet of the lb host's XDP program under keep-alive load, from the kernel's
        own accounting (kernel.bpf_stats_enabled=1 for this cell only: it costs a little)."""
        self.sysctl("kernel.bpf_stats_enabled", "1")
        try:
            before = xdp_prog_stats()
            self.wrk([], 50, 2)
            after = xdp_prog_stats()
        finally:
            sh(["sysctl", "-qw", "kernel.bpf_stats_enabled=0"])
        out = {}
        for name, (ns1, cnt1) in after.items():
            ns0, cnt0 = before.get(name, (0, 0))
            if cnt1 > cnt0:
                out[name] = {"ns_per_packet": (ns1 - ns0) / (cnt1 - cnt0), "packets": cnt1 - cnt0}
        return out

    def smoke(self, v: str) -> None:
        """One request through the VIP (3 tries: a set-up change may need a moment)."""
        last = ""
        for _ in range(3):
            try:
                body = self.client(["curl", "-sS", "--max-time", "3",
                                    f"http://{VIP}:{HTTP_PORT}/"], 10)
                if body.strip().startswith("be"):
                    return
                last = f"unexpected answer {body!r}"
            except RuntimeError as e:
                last = str(e)
            time.sleep(1)
        state = {h: self.run(h, ["sh", "-c", "ip route; ip neigh; nft list ruleset 2>/dev/null"],
                             check=False).stdout for h in ("rt", "lb")}
        raise RuntimeError(f"{v}: no answer through the VIP: {last}; {state}")


def cgroup_dir(name: str) -> Path:
    """A cgroup of our own for CPU accounting: cgroup v2 (cpu.stat is there without enabling
    any controller), else v1's cpuacct hierarchy."""
    for root in (Path("/sys/fs/cgroup"), Path("/sys/fs/cgroup/unified")):
        if (root / "cgroup.controllers").exists():
            return root / name
    return Path("/sys/fs/cgroup/cpuacct") / name


def cgroup_usage_ns(cg: Path) -> int:
    if (cg / "cpuacct.usage").exists():
        return int((cg / "cpuacct.usage").read_text())
    for line in (cg / "cpu.stat").read_text().splitlines():
        if line.startswith("usage_usec "):
            return int(line.split()[1]) * 1000
    raise RuntimeError(f"no CPU usage in {cg}")


def parse_wrk(out: str) -> dict:
    def ms(v: str) -> float:
        for unit, f in (("us", 1e-3), ("ms", 1.0), ("s", 1e3)):
            if v.endswith(unit):
                return float(v[: -len(unit)]) * f
        return float(v)

    r: dict = {"errors": 0}
    for line in out.splitlines():
        f = line.split()
        if len(f) >= 2 and f[0] in ("50%", "90%", "99%"):
            r["p" + f[0][:-1]] = ms(f[1])
        elif line.startswith("Requests/sec:"):
            r["rps"] = float(f[1])
        elif re.match(r"\s*\d+ requests in", line):
            r["requests"] = int(f[0])
        elif "Socket errors:" in line:
            r["errors"] += sum(int(x) for x in re.findall(r"\d+", line))
        elif "Non-2xx" in line:
            r["errors"] += int(f[-1])
    if "rps" not in r:
        raise RuntimeError(f"wrk printed no Requests/sec: {out[-300:]}")
    return r


def xdp_prog_stats() -> dict[str, tuple[int, int]]:
    progs = json.loads(sh(["bpftool", "-j", "prog", "show"]).stdout or "[]")
    out: dict[str, tuple[int, int]] = {}
    for p in progs:
        if p.get("type") == "xdp" and p.get("name") in ("xdp_lb", "xdp_decap"):
            ns, cnt = out.get(p["name"], (0, 0))
            out[p["name"]] = (ns + p.get("run_time_ns", 0), cnt + p.get("run_cnt", 0))
    return out


def unit_test_ns_per_packet() -> str:
    """The BPF_PROG_TEST_RUN figures the unit test prints (repeat runs of the real program)."""
    binary = REPO_DIR / "build" / "l4lb_unit_tests"
    if not binary.exists():
        return "n/a (no build/l4lb_unit_tests)"
    r = sh([str(binary), "--gtest_filter=XdpLbTest.ReportsWhatAPacketAndATableSwapCost"],
           check=False, timeout=120)
    lines = [l.strip() for l in r.stdout.splitlines() if "[ measure ]" in l]
    return " / ".join(l.replace("[ measure ]", "").strip() for l in lines) or "n/a"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--seconds", type=int, default=int(os.environ.get("BENCH_SECONDS", 8)))
    ap.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 2)))
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--workloads", default=",".join(WORKLOADS))
    ap.add_argument("--nice", type=int, default=int(os.environ.get("BENCH_NICE", 0)))
    ap.add_argument("--out", help="also write the markdown report here")
    ap.add_argument("--json", help="also write the raw results here")
    ap.add_argument("--quick", action="store_true",
                    help="a smoke run: 1 round, 1 s cells, keep-alive only, no unit-test figure")
    ap.add_argument("--keep-tmp", action="store_true")
    args = ap.parse_args()
    if args.quick:
        args.seconds, args.rounds = 1, 1
        args.workloads = "keepalive"
    if not 1 <= args.seconds <= 120 or not 1 <= args.rounds <= 10:
        ap.error("--seconds 1..120, --rounds 1..10")
    if os.geteuid() != 0:
        ap.error("needs root (network namespaces, cgroups, sysctl)")
    missing = [t for t in ("ip", "wrk", "iperf3", "nginx", "nft", "ethtool", "curl", "bpftool")
               if not shutil.which(t)]
    if missing:
        ap.error(f"missing {' '.join(missing)}: install bench/packages.txt (scripts/install-packages.sh)")
    variants = [v for v in args.variants.split(",") if v]
    workloads = [w for w in args.workloads.split(",") if w]
    for v in variants:
        if v not in VARIANTS:
            ap.error(f"unknown variant {v}")

    bench = Bench(args)
    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, lambda *_: sys.exit(130))
    started = time.time()
    load_start = Path("/proc/loadavg").read_text().split()[:3]
    results: dict = {"rows": [], "bpf": {}, "skipped": {}, "failed": []}
    try:
        (bench.tmp / "delay.lua").write_text(
            f"function delay()\n  return {LATENCY_DELAY_MS}\nend\n")
        bench.build_topology()
        bench.start_backends()
        runnable = []
        for v in variants:
            why = bench.variant_available(v)
            if why:
                results["skipped"][v] = why
                log(f"{v} {VARIANTS[v]}: skipped ({why})")
            else:
                runnable.append(v)
        for rnd in range(1, args.rounds + 1):
            for v in runnable:
                try:
                    bench.setup(v)
                    bench.smoke(v)
                    if rnd == 1:  # warm-up: caches, conntrack, connection tables
                        bench.client(["wrk", "-t1", "-c10", "-d1s", f"http://{VIP}:{HTTP_PORT}/"], 30)
                    for w in workloads:
                        try:
                            r = bench.cell(v, w)
                        except RuntimeError as e:
                            log(f"{v} {w} round {rnd}: FAILED {e}")
                            results["failed"].append(f"{v} {w} round {rnd}: {e}")
                            continue
                        r.update(variant=v, workload=w, round=rnd)
                        results["rows"].append(r)
                        log(f"{v} {VARIANTS[v]:7} {w:9} r{rnd}: " + ", ".join(
                            f"{k}={r[k]:.4g}" for k in ("rps", "gbps", "p50", "p99", "us_per_req",
                                                          "box_us_per_req", "errors") if k in r))
                    if rnd == args.rounds and VARIANTS[v] in ("dsr", "ipip") and not args.quick:
                        results["bpf"][v] = bench.bpf_stats_cell(v)
                        log(f"{v} bpf stats: {results['bpf'][v]}")
                except RuntimeError as e:
                    log(f"{v} round {rnd}: FAILED {e}")
                    results["failed"].append(f"{v} round {rnd}: {e}")
                finally:
                    bench.teardown(v)
    finally:
        bench.close()
    if not args.quick:
        results["unit_test"] = unit_test_ns_per_packet()
    results["meta"] = {
        "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime(started)),
        "command": " ".join([sys.argv[0], *sys.argv[1:]]),
        "elapsed_s": round(time.time() - started),
        "kernel": os.uname().release,
        "ncpu": os.cpu_count(),
        "load_start": " ".join(load_start),
        "load_end": " ".join(Path("/proc/loadavg").read_text().split()[:3]),
        "seconds": args.seconds, "rounds": args.rounds, "nice": args.nice,
        "threads": bench.threads(),
    }
    sys.path.insert(0, str(BENCH_DIR))
    from packet_report import render  # noqa: E402

    report = render(results)
    print(report)
    if args.out:
        Path(args.out).write_text(report + "\n")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1) + "\n")
    runnable_rows = {r["variant"] for r in results["rows"]}
    return 0 if runnable_rows and not results["failed"] else 1


if __name__ == "__main__":
    sys.exit(main())
