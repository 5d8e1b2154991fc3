"""Transparent source (pool source = "client"): l4lb connects to a backend from the client's own
address, so the backend sees the client without PROXY protocol (nginx's `proxy_bind
$remote_addr transparent`, HAProxy's `usesrc clientip`). Real hosts in network namespaces: a
client (192.0.2.2, 2001:db8:c::2), the l4lb host (192.0.2.1 towards clients, 198.51.100.1
towards backends; not forwarding), a backend host (198.51.100.2, 2001:db8:b::2) routing clients'
addresses through the l4lb host. The l4lb host runs packaging/transparent's routing script, as an
operator would. Backends are socat (which names its peer) and a real rsyslogd."""

from __future__ import annotations

import ipaddress
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from harness import (L4LB_BIN, REPO, Process, config_toml, free_port, run_l4lb, tcp_url,
                     wait_until)
from routed_hosts import Hosts, namespaces_available

ROUTING = REPO / "packaging" / "transparent" / "l4lb-transparent-routing"
RSYSLOGD = shutil.which("rsyslogd") or next(
    (p for p in ["/usr/sbin/rsyslogd"] if os.path.exists(p)), None)

needs_hosts = pytest.mark.skipif(
    not namespaces_available() or shutil.which("nft") is None or shutil.which("socat") is None,
    reason="needs root, ip(8), nft(8) and socat for namespace hosts (scripts/packages.sh)")

CLIENT4, LB_FRONT4, LB_BACK4, BACKEND4 = "192.0.2.2", "192.0.2.1", "198.51.100.1", "198.51.100.2"
CLIENT6, LB_FRONT6, LB_BACK6, BACKEND6 = ("2001:db8:c::2", "2001:db8:c::1", "2001:db8:b::1",
                                          "2001:db8:b::2")


@pytest.fixture
def hosts():
    with Hosts("cl", "lb", "be") as h:
        h.link("cl", [f"{CLIENT4}/24", f"{CLIENT6}/64"], "lb", [f"{LB_FRONT4}/24", f"{LB_FRONT6}/64"])
        h.link("lb", [f"{LB_BACK4}/24", f"{LB_BACK6}/64"], "be", [f"{BACKEND4}/24", f"{BACKEND6}/64"])
        h.route("cl", "default", "via", LB_FRONT4)
        h.route("cl", "default", "via", LB_FRONT6)
        # The backend host answers clients through the l4lb host, as its default route.
        h.route("be", "default", "via", LB_BACK4)
        h.route("be", "default", "via", LB_BACK6)
        # The l4lb host forwards nothing: an answer to a client reaches it only through l4lb.
        h.run("lb", ["sysctl", "-qw", "net.ipv4.ip_forward=0", "net.ipv6.conf.all.forwarding=0"])
        h.run("lb", [str(ROUTING), "up"])
        yield h


def peer_echo(hosts: Hosts, workdir: Path, argv_tail: list[str], name: str) -> Process:
    """socat in the backend host answering each connection or datagram with "peer=ADDRESS"."""
    # It reads the client's line first: closing with unread input would send a reset, which can
    # overtake the answer.
    return Process(hosts.wrap("be", ["socat", *argv_tail,
                                     "SYSTEM:read line; echo peer=$SOCAT_PEERADDR"]),
                   workdir, name)


def peer(answer: str) -> str:
    """The address in a backend's "peer=ADDRESS" answer, in its short form (socat writes IPv6
    addresses in full, in brackets)."""
    if not answer.startswith("peer="):
        return answer
    try:
        return str(ipaddress.ip_address(answer.removeprefix("peer=").strip("[]")))
    except ValueError:
        return answer


def ask(hosts: Hosts, target: str, udp: bool = False) -> str:
    """The address the backend saw, for the client host through l4lb at `target` (HOST:PORT)."""
    argv = ["socat", "-T", "10", "-t", "10", "-", f"{'UDP' if udp else 'TCP'}:{target}"]
    result = subprocess.run(hosts.wrap("cl", argv), input="hello\n", capture_output=True,
                            text=True, timeout=30)
    return peer(result.stdout.strip())


def two_pools(bind: str, backend: str, proto: str = "tcp", global_: dict | None = None) -> str:
    """Listener "plain" on port 8000 to a pool with the default source, listener "kept" on
    port 8001 to a pool with source = "client"; the same backend behind both."""
    backends = [{"address": f"{proto}://{backend}", "name": "b"}]
    return config_toml(
        [{"name": "plain", "bind": f"{proto}://{bind}:8000", "pool": "plain"},
         {"name": "kept", "bind": f"{proto}://{bind}:8001", "pool": "kept"}],
        {"plain": {"backends": backends}, "kept": {"backends": backends, "source": "client"}},
        global_)


@needs_hosts
def test_tcp_backend_sees_the_client_address_and_l4lb_keeps_only_cap_net_raw(hosts, l4lb,
                                                                            workdir, processes):
    processes.append(peer_echo(hosts, workdir, ["TCP4-LISTEN:8080,fork,reuseaddr"], "echo4"))
    proc = l4lb(two_pools(LB_FRONT4, f"{BACKEND4}:8080", global_={"user": "nobody"}),
                wrapper=hosts.wrap("lb", []),
                ready=[f"tcp://{LB_FRONT4}:8000", f"tcp://{LB_FRONT4}:8001"])
    assert proc.wait_log(r'keeping CAP_NET_RAW as user "nobody"'), proc.describe()
    # The default: the backend sees l4lb's own address.
    assert wait_until(lambda: ask(hosts, f"{LB_FRONT4}:8000") == LB_BACK4, 15)
    # source = "client": the client's, on every connection.
    for _ in range(5):
        answer = ask(hosts, f"{LB_FRONT4}:8001")
        assert answer == CLIENT4, (answer, proc.describe())
    status = (Path(f"/proc/{proc.pid}/status").read_text())
    caps = {line.split(":")[0]: int(line.split()[1], 16) for line in status.splitlines()
            if line.startswith(("CapEff", "CapPrm"))}
    assert caps == {"CapEff": 1 << 13, "CapPrm": 1 << 13}, status  # CAP_NET_RAW is 13


@needs_hosts
def test_tcp_over_ipv6_backend_sees_the_client_address(hosts, l4lb, workdir, processes):
    processes.append(peer_echo(hosts, workdir, ["TCP6-LISTEN:8080,fork,reuseaddr,ipv6only=1"],
                               "echo6"))
    l4lb(two_pools(f"[{LB_FRONT6}]", f"[{BACKEND6}]:8080"), wrapper=hosts.wrap("lb", []),
         ready=[f"tcp://[{LB_FRONT6}]:8000", f"tcp://[{LB_FRONT6}]:8001"])
    assert wait_until(lambda: ask(hosts, f"[{LB_FRONT6}]:8000") == LB_BACK6, 15)
    answer = ask(hosts, f"[{LB_FRONT6}]:8001")
    assert answer == CLIENT6, answer


@needs_hosts
def test_udp_backend_sees_the_client_address_and_its_replies_come_back(hosts, l4lb, workdir,
                                                                      processes):
    processes.append(peer_echo(hosts, workdir, ["UDP4-RECVFROM:5353,fork"], "udpecho"))
    l4lb(two_pools(LB_FRONT4, f"{BACKEND4}:5353", proto="udp"), wrapper=hosts.wrap("lb", []),
         ready=[f"udp://{LB_FRONT4}:8000", f"udp://{LB_FRONT4}:8001"])
    assert wait_until(lambda: ask(hosts, f"{LB_FRONT4}:8000", udp=True) == LB_BACK4, 15)
    answer = ask(hosts, f"{LB_FRONT4}:8001", udp=True)
    assert answer == CLIENT4, answer


@needs_hosts
@pytest.mark.skipif(RSYSLOGD is None, reason="rsyslog not installed (scripts/packages.sh)")
def test_rsyslog_behind_l4lb_logs_the_client_host(hosts, l4lb, workdir, processes):
    """The issue's case: rsyslog logged every message as from l4lb's address."""
    out = workdir / "syslog.out"
    conf = workdir / "rsyslog.conf"
    conf.write_text(f"""
global(workDirectory="{workdir}")
module(load="imudp")
input(type="imudp" address="0.0.0.0" port="514")
template(name="from" type="string" string="%fromhost-ip%|%msg%\\n")
*.* action(type="omfile" file="{out}" template="from")
""")
    rsyslog = Process(hosts.wrap("be", [RSYSLOGD, "-n", "-f", str(conf), "-i",
                                        str(workdir / "rsyslog.pid")]), workdir, "rsyslogd")
    processes.append(rsyslog)

    def logged(tag: str) -> str:
        text = out.read_text() if out.exists() else ""
        return next((line for line in text.splitlines() if tag in line), "")

    def probe() -> bool:
        hosts.run("be", ["logger", "-d", "-n", "127.0.0.1", "-P", "514", "probe"], check=False)
        return bool(logged("probe"))

    assert wait_until(probe, 20, 0.3), rsyslog.log()
    l4lb(config_toml([{"name": "syslog", "bind": f"udp://{LB_FRONT4}:514", "pool": "syslog"}],
                     {"syslog": {"backends": [{"address": f"udp://{BACKEND4}:514"}],
                                 "source": "client"}}),
         wrapper=hosts.wrap("lb", []), ready=[f"udp://{LB_FRONT4}:514"])
    for n in range(5):
        hosts.run("cl", ["logger", "-d", "-n", LB_FRONT4, "-P", "514", f"through-l4lb-{n}"])
    assert wait_until(lambda: all(logged(f"through-l4lb-{n}") for n in range(5)), 15), \
        out.read_text() if out.exists() else "(nothing logged)"
    for n in range(5):
        assert logged(f"through-l4lb-{n}").startswith(f"{CLIENT4}|"), logged(f"through-l4lb-{n}")


def test_client_source_without_the_capability_is_refused_at_start(workdir):
    """IP_TRANSPARENT needs CAP_NET_RAW: without it, l4lb says so and starts nothing, instead of
    failing every connection."""
    config = workdir / "kept.toml"
    config.write_text(config_toml(
        [{"name": "kept", "bind": tcp_url(free_port()), "pool": "kept"}],
        {"kept": {"backends": [{"address": "tcp://127.0.0.1:9"}], "source": "client"}}) +
        "\n[admin]\nlisten = []\n")
    os.chmod(workdir, 0o755)
    os.chmod(config, 0o644)
    drop = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups", "--inh-caps=-all",
            "--bounding-set=-all", "--"] if os.geteuid() == 0 else []
    result = subprocess.run(drop + [L4LB_BIN, "run", "-c", str(config)],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)
    assert result.returncode == 1, result.stderr
    assert 'pool "kept": source = "client"' in result.stderr, result.stderr
    assert "CAP_NET_RAW" in result.stderr, result.stderr


def test_fixed_source_not_of_this_host_is_refused_at_start(workdir):
    config = workdir / "fixed.toml"
    config.write_text(config_toml(
        [{"name": "f", "bind": tcp_url(free_port()), "pool": "f"}],
        {"f": {"backends": [{"address": "tcp://127.0.0.1:9"}], "source": "203.0.113.77"}}) +
        f'\n[admin]\nlisten = ["unix://{workdir}/admin.sock"]\n')
    result = run_l4lb(["run", "-c", str(config)])
    assert result.returncode == 1, result.stderr
    assert 'source "203.0.113.77" is not an address of this host' in result.stderr, result.stderr


def test_fixed_source_address_is_what_the_backend_sees(l4lb, workdir, processes):
    """source = "127.0.0.2": one address of this host for every backend connection (nginx's
    proxy_bind ADDRESS), needing no capability and no routing."""
    port = free_port()
    processes.append(Process(["socat", f"TCP4-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr",
                              "SYSTEM:read line; echo peer=$SOCAT_PEERADDR"], workdir, "echo"))
    listen = free_port()
    l4lb(config_toml([{"name": "f", "bind": tcp_url(listen), "pool": "f"}],
                     {"f": {"backends": [{"address": tcp_url(port)}], "source": "127.0.0.2"}}),
         ready=[tcp_url(listen)])

    def answer() -> str:
        result = subprocess.run(["socat", "-T", "5", "-t", "5", "-", f"TCP:127.0.0.1:{listen}"],
                                input="x\n", capture_output=True, text=True, timeout=20)
        return result.stdout.strip()

    assert wait_until(lambda: answer() == "peer=127.0.0.2", 15), answer()
