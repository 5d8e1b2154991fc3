"""Several l4lb instances behind a router, as issue 16 asks: real BGP, real ECMP, real faults.

The test builds, in network namespaces, and removes whatever happens:

    cl (clients 192.0.2.100-147) -- rt (BIRD, ECMP) -- lb1, lb2, lb3 (l4lb + BIRD each)
                                     `-- be1, be2, be3 (servers that answer with their name)

Each lbN holds the VIP 198.51.100.10 on lo and runs l4lb with `announce = true` and the shipped
packaging/bird/l4lb.conf, which exports l4lb's announce interface by BGP (with BFD) to rt. rt's
BIRD merges the three routes into one multipath route in its kernel table; its kernel hashes
the 5-tuple (fib_multipath_hash_policy 3, fields 0x37, a fixed seed), so a flow stays on one
instance however often its packets are retransmitted. The backends greet every connection with
"NAME PEER", PEER being the instance that carried it.

The tests run in file order on one topology (each leaves all three instances announced):
steady traffic, spread and agreement, binary upgrade, a pool down on one instance, SIGTERM,
kill -9. Figures are printed (`pytest -s`); docs/scale-out.md quotes them."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter, defaultdict
from pathlib import Path

import pytest
from bird_configs import Bird, bird_available, lb_bird_config, router_bird_config
from harness import L4LB_BIN, L4lb, Process, config_toml, wait_until
from routed_hosts import Hosts, namespaces_available

pytestmark = pytest.mark.skipif(
    not namespaces_available() or not bird_available(),
    reason="needs root (network namespaces), `ip` and BIRD 2 (package bird2)")

VIP = "198.51.100.10"
PORT = 8080
BACKEND_PORT = 7000
VIPS4 = "[ 198.51.100.0/24{32,32} ]"
ROUTER_AS = 65000
INSTANCES = ("lb1", "lb2", "lb3")
BACKENDS = ("be1", "be2", "be3")
CLIENTS = [f"192.0.2.{100 + i}" for i in range(48)]
PEER = Path(__file__).with_name("ecmp_peer.py")


def router_side(n: int) -> str:
    return f"203.0.113.{4 * n + 1}"


def instance_address(n: int) -> str:
    return f"203.0.113.{4 * n + 2}"


def backend_router_side(n: int) -> str:
    return f"203.0.113.{128 + 4 * n + 1}"


def backend_address(n: int) -> str:
    return f"203.0.113.{128 + 4 * n + 2}"


INSTANCE_OF = {instance_address(n): name for n, name in enumerate(INSTANCES)}


class RouteWatch:
    """Polls the router's route to the VIP (every ~5 ms, for at most `limit` s) and keeps every
    change of its next-hop set: [(monotonic time, wall time, frozenset of instances)]."""

    def __init__(self, cluster: "Cluster", limit: float = 60):
        self.cluster = cluster
        self.limit = limit
        self.changes: list[tuple[float, float, frozenset]] = []
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run)

    def run(self) -> None:
        deadline = time.monotonic() + self.limit
        last = None
        while not self.stopping.is_set() and time.monotonic() < deadline:
            hops = self.cluster.next_hops()
            if hops != last:
                self.changes.append((time.monotonic(), time.time(), hops))
                last = hops
            time.sleep(0.005)

    def __enter__(self) -> "RouteWatch":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stopping.set()
        self.thread.join(self.limit + 5)

    def first(self, predicate) -> tuple[float, float, frozenset] | None:
        return next((c for c in self.changes if predicate(c[2])), None)


class Cluster:
    def __init__(self, hosts: Hosts, workdir: Path):
        self.hosts = hosts
        self.workdir = workdir
        self.birds: dict[str, Bird] = {}
        self.servers: list[Process] = []
        self.l4lbs: dict[str, L4lb] = {}
        self.retired: list[L4lb] = []

    # --- building -----------------------------------------------------------------------------

    def build(self) -> None:
        h = self.hosts
        h.link("rt", ["192.0.2.1/24"], "cl", ["192.0.2.10/24"])
        batch = "".join(f"address add {a}/24 dev vcl0\n" for a in CLIENTS)
        subprocess.run(["ip", "-n", h.ns("cl"), "-batch", "-"], input=batch, text=True,
                       check=True, timeout=30)
        h.route("cl", "default", "via", "192.0.2.1")
        for n, name in enumerate(INSTANCES):
            h.link("rt", [f"{router_side(n)}/30"], name, [f"{instance_address(n)}/30"])
            h.route(name, "default", "via", router_side(n))
            h.run(name, ["ip", "addr", "add", f"{VIP}/32", "dev", "lo"])
        for n, name in enumerate(BACKENDS):
            h.link("rt", [f"{backend_router_side(n)}/30"], name, [f"{backend_address(n)}/30"])
            h.route(name, "default", "via", backend_router_side(n))
        # The router: forwarding, ECMP on the 5-tuple with a fixed seed (every run and every
        # router hash alike), no reverse-path filter (replies come back by other paths).
        h.run("rt", ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1",
                     "net.ipv4.fib_multipath_hash_policy=3",
                     "net.ipv4.fib_multipath_hash_fields=0x0037",
                     "net.ipv4.fib_multipath_hash_seed=20261205",
                     "net.ipv4.conf.all.rp_filter=0", "net.ipv4.conf.default.rp_filter=0"])

        peers = {name: (router_side(n), instance_address(n), 65101 + n)
                 for n, name in enumerate(INSTANCES)}
        self.birds["rt"] = Bird("rt", router_bird_config("192.0.2.1", ROUTER_AS, peers, VIPS4),
                                self.workdir, h.wrap("rt", []))
        for n, name in enumerate(INSTANCES):
            config = lb_bird_config(instance_address(n), 65101 + n, router_side(n), ROUTER_AS,
                                    VIPS4)
            self.birds[name] = Bird(name, config, self.workdir, h.wrap(name, []))
        for n, name in enumerate(BACKENDS):
            server = Process(h.wrap(name, [sys.executable, str(PEER), "serve", name,
                                           backend_address(n), str(BACKEND_PORT)]),
                             self.workdir, f"server-{name}")
            self.servers.append(server)
        for server in self.servers:
            assert wait_until(lambda: "serving" in server.log(), 10), server.log()
        for name in INSTANCES:
            self.start(name)
        assert wait_until(lambda: self.next_hops() == frozenset(INSTANCES), 60), (
            self.router_route(), self.birds["rt"].birdc("show", "protocols", "all"),
            "\n".join(p.describe() for p in self.l4lbs.values()))

    def config_path(self, name: str) -> Path:
        path = self.workdir / f"{name}.toml"
        backends = [{"name": b, "address": f"tcp://{backend_address(n)}:{BACKEND_PORT}"}
                    for n, b in enumerate(BACKENDS)]
        path.write_text(config_toml(
            [{"name": "front", "bind": f"tcp://{VIP}:{PORT}", "pool": "back", "announce": True}],
            {"back": {"balance": "maglev", "connect_timeout": "2s", "backends": backends,
                      "health": {"check": "tcp", "interval": "200ms", "timeout": "200ms",
                                 "rise": 2, "fall": 2}}},
            {"announce_interface": "l4vip0", "announce_hold_down": "1s",
             "withdraw_grace": "2s", "shutdown_grace": "2s"})
            + f'\n[admin]\nlisten = ["unix://{self.admin_socket(name)}"]\n')
        return path

    def admin_socket(self, name: str) -> Path:
        return self.workdir / f"{name}-admin.sock"

    def start(self, name: str, upgrade: bool = False) -> L4lb:
        args = ["run", "-c", str(self.config_path(name))]
        if upgrade:
            args += ["--upgrade-from", f"unix://{self.admin_socket(name)}"]
        proc = L4lb(args, self.workdir, L4LB_BIN, self.hosts.wrap(name, []))
        if name in self.l4lbs:
            self.retired.append(self.l4lbs[name])
        self.l4lbs[name] = proc
        if not upgrade:
            proc.wait_ready([f"tcp://{VIP}:{PORT}"])
        return proc

    def restart(self, name: str) -> None:
        """After a stop or a crash: start again and wait until the router has all three."""
        self.start(name)
        assert wait_until(lambda: self.next_hops() == frozenset(INSTANCES), 30), (
            self.router_route(), self.l4lbs[name].describe())

    # --- observing ----------------------------------------------------------------------------

    def router_route(self) -> str:
        return self.hosts.run("rt", ["ip", "route", "show", f"{VIP}/32"], check=False).stdout

    def next_hops(self) -> frozenset:
        return frozenset(INSTANCE_OF.get(a, a)
                         for a in re.findall(r"via (\S+)", self.router_route()))

    def import_counters(self, name: str) -> tuple[int, int]:
        """(updates, withdraws) the router has received from `name`'s BIRD."""
        text = self.birds["rt"].birdc("show", "protocols", "all", name)
        updates = re.search(r"Import updates:\s+(\d+)", text)
        withdraws = re.search(r"Import withdraws:\s+(\d+)", text)
        assert updates and withdraws, text
        return int(updates.group(1)), int(withdraws.group(1))

    def drive(self, duration: float, long_per_source: int = 1, new_interval: float | None = 0.05,
              sources: list[str] | None = None) -> subprocess.Popen:
        """Starts the client driver in `cl`; `finish()` its result."""
        spec = {"vip": VIP, "port": PORT, "sources": sources or CLIENTS,
                "long_per_source": long_per_source, "duration": duration,
                "new_interval": new_interval}
        return subprocess.Popen(self.hosts.wrap("cl", [sys.executable, str(PEER), "drive",
                                                       json.dumps(spec)]),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    @staticmethod
    def finish(driver: subprocess.Popen, duration: float) -> dict:
        out, err = driver.communicate(timeout=duration + 30)
        assert driver.returncode == 0, err
        result = json.loads(out)
        for record in result["long"] + result["new"]:
            record["instance"] = INSTANCE_OF.get(record["instance"], record["instance"])
        return result

    def close(self) -> list[str]:
        problems = []
        for proc in [*self.retired, *self.l4lbs.values()]:
            proc.stop()
            report = proc.crash_report()
            if report:
                problems.append(report)
        for server in self.servers:
            server.stop()
        for bird in self.birds.values():
            bird.stop()
        return problems


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("scale-out")
    with Hosts("cl", "rt", *INSTANCES, *BACKENDS) as hosts:
        cluster = Cluster(hosts, workdir)
        try:
            cluster.build()
            yield cluster
        finally:
            problems = cluster.close()
    if problems:
        pytest.fail("\n\n".join(problems), pytrace=False)


def broken(records: list[dict]) -> list[dict]:
    return [r for r in records if r["end"] is not None]


def by_instance(records: list[dict]) -> Counter:
    return Counter(r["instance"] for r in records)


def long_summary(result: dict, instance: str) -> tuple[int, int, int, int]:
    """(on `instance`, of those broken, elsewhere, of those broken) for the long connections."""
    on = [r for r in result["long"] if r["instance"] == instance]
    off = [r for r in result["long"] if r["instance"] != instance]
    return len(on), len(broken(on)), len(off), len(broken(off))


def test_converged_one_multipath_route_and_30_s_of_steady_traffic_without_a_reset(cluster):
    route = cluster.router_route()
    assert route.count("nexthop via") == len(INSTANCES), route
    assert "proto bird" in route, route

    duration = 30
    result = cluster.finish(cluster.drive(duration, long_per_source=2), duration)
    long, new = result["long"], result["new"]
    assert len(long) == 2 * len(CLIENTS)
    assert broken(long) == [], broken(long)[:5]
    assert all(r["pings"] > 0 for r in long)
    assert broken(new) == [], broken(new)[:5]
    spread = by_instance(long)
    assert set(spread) == set(INSTANCES), spread
    print(f"\nsteady {duration} s: {len(long)} long-lived connections "
          f"({sum(r['pings'] for r in long)} echoed lines), {len(new)} new connections, "
          f"0 broken; long-lived per instance {dict(sorted(spread.items()))}")


def test_clients_spread_over_instances_and_each_client_reaches_one_backend_through_any(cluster):
    duration = 5
    result = cluster.finish(cluster.drive(duration, long_per_source=0, new_interval=0.005),
                            duration)
    new = result["new"]
    assert broken(new) == [], broken(new)[:5]
    backends: dict[str, set] = defaultdict(set)
    instances: dict[str, set] = defaultdict(set)
    for r in new:
        backends[r["src"]].add(r["backend"])
        instances[r["src"]].add(r["instance"])
    assert len(backends) == len(CLIENTS)
    split = {src: b for src, b in backends.items() if len(b) != 1}
    assert split == {}, f"clients that reached more than one backend: {split}"
    crossing = [src for src, i in instances.items() if len(i) > 1]
    assert crossing, instances
    print(f"\nspread: {len(new)} new connections from {len(CLIENTS)} clients; per instance "
          f"{dict(sorted(by_instance(new).items()))}; per backend "
          f"{dict(sorted(Counter(r['backend'] for r in new).items()))}; {len(crossing)} clients "
          f"crossed more than one instance, every client reached exactly one backend")


def test_a_binary_upgrade_of_one_instance_changes_no_route_and_breaks_no_connection(cluster):
    name = "lb2"
    before = cluster.import_counters(name)
    duration = 12
    with RouteWatch(cluster, duration + 10) as watch:
        driver = cluster.drive(duration)
        time.sleep(4)
        old = cluster.l4lbs[name]
        new = cluster.start(name, upgrade=True)
        assert new.wait_log(r"upgrade from pid \d+ done", 30) is not None, \
            new.describe() + "\n" + old.describe()
        assert old.wait(30) == 0, old.describe()
        result = cluster.finish(driver, duration)
    after = cluster.import_counters(name)
    assert [c[2] for c in watch.changes] == [frozenset(INSTANCES)], watch.changes
    assert after == before, f"BIRD import (updates, withdraws) went {before} -> {after}"
    on, on_broken, off, off_broken = long_summary(result, name)
    assert on > 0
    assert (on_broken, off_broken) == (0, 0), broken(result["long"])[:5]
    assert broken(result["new"]) == [], broken(result["new"])[:5]
    print(f"\nupgrade of {name}: 0 route changes at the router (BIRD import updates/withdraws "
          f"{before} before and after); {on} long-lived connections on {name} and {off} on "
          f"the others, 0 broken; {len(result['new'])} new connections, 0 failed")


def test_a_pool_with_every_backend_down_on_one_instance_is_withdrawn_there_only(cluster):
    name = "lb3"
    # Every health check from lb3 is refused (new connections to the backends' port reset),
    # while lb1 and lb2 still reach the backends.
    rules = ("add table inet l4test\n"
             "add chain inet l4test out { type filter hook output priority 0; }\n"
             f"add rule inet l4test out tcp dport {BACKEND_PORT} ct state new "
             "reject with tcp reset\n")
    with RouteWatch(cluster, 30) as watch:
        subprocess.run(cluster.hosts.wrap(name, ["nft", "-f", "-"]), input=rules, text=True,
                       check=True, timeout=10)
        blocked = time.monotonic()
        try:
            remaining = frozenset(INSTANCES) - {name}
            assert wait_until(lambda: cluster.next_hops() == remaining, 15), \
                (cluster.router_route(), cluster.l4lbs[name].describe())
            withdrawn = time.monotonic()
            duration = 3
            result = cluster.finish(cluster.drive(duration, long_per_source=0), duration)
        finally:
            subprocess.run(cluster.hosts.wrap(name, ["nft", "delete", "table", "inet", "l4test"]),
                           check=False, timeout=10)
        assert wait_until(lambda: cluster.next_hops() == frozenset(INSTANCES), 20), \
            (cluster.router_route(), cluster.l4lbs[name].describe())
        back = time.monotonic()
    assert [c[2] for c in watch.changes] == [frozenset(INSTANCES), remaining,
                                             frozenset(INSTANCES)], watch.changes
    new = result["new"]
    assert new and broken(new) == [], broken(new)[:5]
    assert name not in by_instance(new), by_instance(new)
    print(f"\npool down on {name}: withdrawn {(withdrawn - blocked) * 1000:.0f} ms after its "
          f"checks began to fail (fall 2 x interval 200 ms), the others served all "
          f"{len(new)} new connections; re-announced {back - withdrawn - duration:.1f} s after "
          f"the checks passed again (rise 2, announce_hold_down 1s)")


def test_sigterm_withdraws_before_it_stops_accepting_and_no_new_connection_fails(cluster):
    name = "lb1"
    proc = cluster.l4lbs[name]
    duration = 10
    with RouteWatch(cluster, duration + 10) as watch:
        driver = cluster.drive(duration)
        time.sleep(3)
        proc.send_signal(signal.SIGTERM)
        signalled = time.monotonic()
        assert proc.wait(20) == 0, proc.describe()
        result = cluster.finish(driver, duration)
    left = watch.first(lambda hops: name not in hops)
    assert left is not None, watch.changes
    stopped = re.search(r"^(\S+) .*no longer accepting", proc.stderr(), re.M)
    assert stopped, proc.describe()
    stopped_wall = time.mktime(time.strptime(stopped.group(1)[:19], "%Y-%m-%dT%H:%M:%S")) \
        - time.timezone + float("0" + stopped.group(1)[19:-1])
    assert left[1] < stopped_wall, (left, stopped.group(1))
    assert broken(result["new"]) == [], broken(result["new"])[:5]
    on, on_broken, off, off_broken = long_summary(result, name)
    print(f"\nSIGTERM of {name}: its next hop left the router {(left[0] - signalled) * 1000:.0f}"
          f" ms after the signal, {stopped_wall - left[1]:.2f} s before it stopped accepting "
          f"(withdraw_grace 2s); {len(result['new'])} new connections, 0 failed; long-lived "
          f"connections broken: {on_broken} of {on} on {name}, {off_broken} of {off} on the "
          f"others (moved by the router's rehash)")
    cluster.restart(name)


def test_kill_9_withdraws_in_milliseconds_and_new_connections_are_served_after(cluster):
    name = "lb2"
    proc = cluster.l4lbs[name]
    duration = 8
    with RouteWatch(cluster, duration + 10) as watch:
        driver = cluster.drive(duration)
        time.sleep(3)
        proc.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        assert proc.wait(10) is not None
        result = cluster.finish(driver, duration)
    left = watch.first(lambda hops: name not in hops)
    assert left is not None, watch.changes
    assert left[2] == frozenset(INSTANCES) - {name}, watch.changes
    after = [r for r in result["new"] if r["start"] > left[0]]
    window = [r for r in result["new"] if killed <= r["start"] <= left[0]]
    assert after and broken(after) == [], broken(after)[:5]
    on, on_broken, off, off_broken = long_summary(result, name)
    assert on_broken == on, [r for r in result["long"] if r["instance"] == name][:5]
    print(f"\nkill -9 of {name}: its next hop left the router {(left[0] - killed) * 1000:.0f} ms "
          f"after the kill; long-lived connections broken: {on_broken} of {on} on {name}, "
          f"{off_broken} of {off} on the others (moved by the router's rehash); new connections "
          f"started before the route left: {len(broken(window))} of {len(window)} failed; after: "
          f"{len(after)}, 0 failed")
    cluster.restart(name)
