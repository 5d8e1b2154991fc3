"""Backends discovered from DNS (issue 16, "Discovery"), against a real unbound whose local
data each test changes at runtime with unbound-control: a record added is a backend that takes
traffic once its health check passes; a record removed is a backend that drains; an outage of
the server, an empty answer and an answer removing most backends change nothing (held, logged);
SRV priorities and weights become backup and weight; a reload of the file keeps the discovered
backends; a pool of discovered backends only starts empty when the server is down."""

from __future__ import annotations

import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from harness import (IO_TIMEOUT, admin_get, api, ask_name, config_toml, connect,
                     connect_expect_closed, free_port, free_udp_port, ipv6_loopback_available,
                     pool_backends, recv_line, start_unbound, tcp_url, udp_server, udp_url,
                     wait_pool_backends, wait_until)

pytestmark = pytest.mark.skipif(not shutil.which("unbound-control"), reason="no unbound")

SRV = "_app._tcp.svc.test."
LABEL = "dns:" + SRV
# fall 3: a check slowed by a loaded machine does not take a backend down mid-test (the first
# result, from unknown, decides at once).
CHECK = {"check": "tcp", "interval": "200ms", "timeout": "1s", "rise": 1, "fall": 3}
FAST = {"interval": "500ms", "min_interval": "200ms", "settle": "300ms", "timeout": "500ms"}


class Dns:
    """A real unbound answering from local data the test changes through unbound-control."""

    def __init__(self, workdir: Path, processes: list):
        self.workdir = workdir
        self.port = free_udp_port()
        self.proc = start_unbound(workdir, self.port, {"ready.test.": "192.0.2.1"},
                                  control=workdir / "unbound.ctl")
        processes.append(self.proc)
        self.server = f"127.0.0.1:{self.port}"

    def control(self, *args: str) -> None:
        r = subprocess.run(["unbound-control", "-c", str(self.workdir / "unbound.conf"), *args],
                           capture_output=True, text=True, timeout=IO_TIMEOUT)
        assert r.returncode == 0 and "error" not in r.stdout, (args, r.stdout, r.stderr)

    def srv(self, records: list[tuple[int, int, int, str]], ttl: int = 1) -> None:
        """Sets the SRV records (priority, weight, port, target) of SRV: all of them at once."""
        self.control("local_data_remove", SRV)
        for priority, weight, port, target in records:
            self.control("local_data", f"{SRV} {ttl} IN SRV {priority} {weight} {port} {target}")

    def a(self, name: str, address: str, ttl: int = 1) -> None:
        self.control("local_data", f"{name} {ttl} IN A {address}")


def discover_config(listen: str, dns: Dns, discover: dict | None = None,
                    pool: dict | None = None) -> str:
    p = {"balance": "round-robin", "retries": 2, "connect_timeout": "1s", "health": CHECK,
         "discover": {"dns": SRV, "type": "SRV", "server": dns.server, **FAST, **(discover or {})}}
    p.update(pool or {})
    return config_toml([{"name": "front", "bind": listen, "pool": "back"}], {"back": p},
                       {"workers": 1})


def names_seen(url: str, count: int) -> list[str]:
    return [ask_name(url) for _ in range(count)]


def start_with_two(l4lb, workdir, processes, servers, discover: dict | None = None):
    """unbound with SRV -> a, b (both serving), l4lb discovering them; (proc, dns, listen,
    {name: url})."""
    dns = Dns(workdir, processes)
    urls = {n: tcp_url(free_port()) for n in ("a", "b")}
    for n, url in urls.items():
        servers(url, name=n)
        dns.a(f"{n}.svc.test.", "127.0.0.1")
    dns.srv([(10, 1, int(urls[n].rsplit(":", 1)[1]), f"{n}.svc.test.") for n in urls])
    listen = tcp_url(free_port())
    proc = l4lb(discover_config(listen, dns, discover), ready=[listen])
    found = wait_pool_backends(proc, set(urls.values()))
    assert all(b["source"] == LABEL for b in found.values()), found
    return proc, dns, listen, urls


def test_discovered_at_start_marked_with_their_source(l4lb, workdir, processes, servers):
    proc, _, listen, urls = start_with_two(l4lb, workdir, processes, servers)
    # Asked before the first connection: the pool served its discovered backends from the start.
    assert proc.wait_log(r"discovery: pool back: dns:_app\._tcp\.svc\.test\.: starting with 2 "
                         r"backends"), proc.describe()
    assert wait_until(lambda: all(b["state"] == "up" for b in pool_backends(proc).values()), 10)
    assert set(names_seen(listen, 4)) == {"a", "b"}
    pool = api(proc, "/pools/back")
    assert pool["discover"] == LABEL
    metrics = admin_get(proc, "/metrics")
    for url in urls.values():
        assert (f'l4lb_backend_discovered{{pool="back",backend="{url}",source="{LABEL}"}} 1'
                in metrics), metrics
    table = subprocess.run([proc.args[0], "ctl", "-c", proc.args[proc.args.index("-c") + 1],
                            "pool", "back"], capture_output=True, text=True, timeout=20)
    assert table.returncode == 0, table.stderr
    assert "SOURCE" in table.stdout and LABEL in table.stdout, table.stdout
    pools = subprocess.run([proc.args[0], "ctl", "-c", proc.args[proc.args.index("-c") + 1],
                            "pools"], capture_output=True, text=True, timeout=20)
    assert "DISCOVER" in pools.stdout and LABEL in pools.stdout, pools.stdout


def test_added_record_takes_traffic_only_once_its_check_passes(l4lb, workdir, processes,
                                                              servers):
    proc, dns, listen, urls = start_with_two(l4lb, workdir, processes, servers)
    c_url = tcp_url(free_port())
    dns.a("c.svc.test.", "127.0.0.1")
    records = [(10, 1, int(u.rsplit(":", 1)[1]), f"{n}.svc.test.")
               for n, u in {**urls, "c": c_url}.items()]
    dns.srv(records)
    found = wait_pool_backends(proc, {*urls.values(), c_url})
    assert found[c_url]["source"] == LABEL
    assert proc.wait_log(r"discovery: pool back: .* now gives 3 backends"), proc.describe()
    # c's server is not up yet: its check fails and no client reaches it (every one is served).
    assert wait_until(lambda: pool_backends(proc)[c_url]["health"] == "down", 10), \
        pool_backends(proc)
    assert set(names_seen(listen, 6)) == {"a", "b"}
    server = servers(c_url, name="c")
    assert wait_until(lambda: pool_backends(proc)[c_url]["state"] == "up", 10), \
        pool_backends(proc)
    assert "c" in names_seen(listen, 6)
    assert server.accepted > 0


def test_removed_record_drains(l4lb, workdir, processes, servers):
    proc, dns, listen, urls = start_with_two(l4lb, workdir, processes, servers)
    assert wait_until(lambda: all(b["state"] == "up" for b in pool_backends(proc).values()), 10)
    # A connection open on b before b's record goes.
    held = None
    for _ in range(4):
        s = connect(listen)
        if recv_line(s).decode().strip() == "b":
            held = s
            break
        s.close()
    assert held is not None
    with held:
        dns.srv([(10, 1, int(urls["a"].rsplit(":", 1)[1]), "a.svc.test.")])
        wait_pool_backends(proc, {urls["a"]})
        assert proc.wait_log(r"discovery: pool back: .* now gives 1 backend"), proc.describe()
        assert set(names_seen(listen, 4)) == {"a"}
        # The open connection goes on: the removed backend drains, it is not cut.
        held.sendall(b"still there\n")
        assert recv_line(held) == b"still there\n"


def test_server_outage_removes_nothing(l4lb, workdir, processes, servers):
    proc, dns, listen, urls = start_with_two(l4lb, workdir, processes, servers)
    dns.proc.stop()
    assert proc.wait_log(r"discovery: pool back: error: .*keeping the 2 backends found before",
                         15), proc.describe()
    assert set(pool_backends(proc)) == set(urls.values())
    assert "now gives" not in proc.stderr()
    assert set(names_seen(listen, 4)) == {"a", "b"}
    discovery = api(proc, "/pools/back")["discovery"]
    assert (discovery["synced"], discovery["state"], discovery["backends"]) == (True, "error", 2)
    assert "keeping the 2 backends" in discovery["message"], discovery


def test_empty_answer_is_held(l4lb, workdir, processes, servers):
    proc, dns, listen, urls = start_with_two(l4lb, workdir, processes, servers)
    dns.control("local_data_remove", SRV)  # NXDOMAIN
    assert proc.wait_log(r"discovery: pool back: held: .*empty answer held, not applied", 15), \
        proc.describe()
    assert set(pool_backends(proc)) == set(urls.values())
    assert "now gives" not in proc.stderr()
    assert api(proc, "/pools/back")["discovery"]["state"] == "held-empty"


def test_removing_more_than_max_removed_is_held(l4lb, workdir, processes, servers):
    dns = Dns(workdir, processes)
    urls = {n: tcp_url(free_port()) for n in ("a", "b", "c", "d")}
    for n, url in urls.items():
        servers(url, name=n)
        dns.a(f"{n}.svc.test.", "127.0.0.1")
    port = {n: int(u.rsplit(":", 1)[1]) for n, u in urls.items()}
    dns.srv([(10, 1, port[n], f"{n}.svc.test.") for n in urls])
    listen = tcp_url(free_port())
    proc = l4lb(discover_config(listen, dns), ready=[listen])
    wait_pool_backends(proc, set(urls.values()))
    dns.srv([(10, 1, port["a"], "a.svc.test.")])  # 3 of 4 would go: more than 50%
    assert proc.wait_log(r"held: .*removes 3 of 4 backends .*max_removed = \"50%\"", 15), \
        proc.describe()
    assert set(pool_backends(proc)) == set(urls.values())
    dns.srv([(10, 1, port[n], f"{n}.svc.test.") for n in ("a", "b")])  # 2 of 4: allowed
    wait_pool_backends(proc, {urls["a"], urls["b"]})


def test_srv_priority_and_weight(l4lb, workdir, processes, servers):
    dns = Dns(workdir, processes)
    urls = {n: tcp_url(free_port()) for n in ("heavy", "light", "spare")}
    for n, url in urls.items():
        servers(url, name=n)
        dns.a(f"{n}.svc.test.", "127.0.0.1")
    port = {n: int(u.rsplit(":", 1)[1]) for n, u in urls.items()}
    dns.srv([(10, 3, port["heavy"], "heavy.svc.test."), (10, 1, port["light"], "light.svc.test."),
             (20, 5, port["spare"], "spare.svc.test.")])
    listen = tcp_url(free_port())
    proc = l4lb(discover_config(listen, dns), ready=[listen])
    found = wait_pool_backends(proc, set(urls.values()))
    assert (found[urls["heavy"]]["weight"], found[urls["heavy"]]["backup"]) == (3, False)
    assert (found[urls["light"]]["weight"], found[urls["light"]]["backup"]) == (1, False)
    assert found[urls["spare"]]["backup"] is True  # a higher priority number: a backup
    assert wait_until(lambda: all(b["state"] == "up" for b in pool_backends(proc).values()), 10)
    seen = names_seen(listen, 40)
    # Weighted round-robin over the primaries, 3:1; the backup takes nothing while they are up.
    assert (seen.count("heavy"), seen.count("light"), seen.count("spare")) == (30, 10, 0), seen


def test_a_records_at_the_configured_port(l4lb, workdir, processes, servers):
    dns = Dns(workdir, processes)
    port = free_port()
    for n, host in (("two", "127.0.0.2"), ("three", "127.0.0.3")):
        servers(tcp_url(port, host), name=n)
        dns.a("app.svc.test.", host)
    listen = tcp_url(free_port())
    proc = l4lb(discover_config(listen, dns, {"dns": "app.svc.test.", "type": "A", "port": port}),
                ready=[listen])
    wait_pool_backends(proc, {tcp_url(port, "127.0.0.2"), tcp_url(port, "127.0.0.3")})
    assert wait_until(lambda: all(b["state"] == "up" for b in pool_backends(proc).values()), 10)
    assert set(names_seen(listen, 4)) == {"two", "three"}


def test_reload_keeps_discovered_backends(l4lb, workdir, processes, servers):
    proc, _, listen, urls = start_with_two(l4lb, workdir, processes, servers)
    proc.send_signal(signal.SIGHUP)
    assert proc.wait_log(r"reloaded .*"), proc.describe()
    assert set(pool_backends(proc)) == set(urls.values())
    assert "-tcp://" not in "".join(ln for ln in proc.stderr().splitlines() if "reloaded" in ln)


@pytest.mark.parametrize("balance", ["round-robin", "least-conn", "random-two", "maglev",
                                     "first"])
def test_pool_of_only_discovered_backends_starts_empty_without_dns(l4lb, workdir, processes,
                                                                  servers, balance):
    dns = Dns(workdir, processes)
    dns.proc.stop()  # nothing answers: the pool starts with no backend, l4lb still starts
    listen = tcp_url(free_port())
    proc = l4lb(discover_config(listen, dns, pool={"balance": balance}), ready=[listen])
    assert proc.wait_log(r"starting without discovered backends"), proc.describe()
    assert pool_backends(proc) == {}
    # Each connection is closed (no backend), and every balancer copes with an empty pool.
    for _ in range(3):
        how, _ = connect_expect_closed(listen)
        assert how in ("eof", "reset"), how
    assert proc.alive(), proc.describe()
    assert api(proc, "/pools/back")["discovery"]["synced"] is False


def test_datagram_pool_discovers_udp_backends(l4lb, workdir, processes):
    dns = Dns(workdir, processes)
    echo = udp_server(prefix=b"echo:")
    try:
        dns.a("udp.svc.test.", "127.0.0.1")
        dns.srv([(10, 1, echo.address[1], "udp.svc.test.")])
        listen = free_udp_port()
        text = config_toml([{"name": "front", "bind": udp_url(listen), "pool": "back"}],
                           {"back": {"discover": {"dns": SRV, "server": dns.server,
                                                  "protocol": "udp", **FAST}}},
                           {"workers": 1})
        proc = l4lb(text, ready=[udp_url(listen)])
        found = wait_pool_backends(proc, {udp_url(echo.address[1])})
        assert api(proc, "/pools/back")["kind"] == "datagram", found
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.settimeout(IO_TIMEOUT)
            s.sendto(b"hello", ("127.0.0.1", listen))
            assert s.recv(100) == b"echo:hello"
    finally:
        echo.stop()


def test_reload_raising_max_removed_applies_a_held_answer(l4lb, workdir, processes, servers):
    proc, dns, listen, urls = start_with_two(l4lb, workdir, processes, servers,
                                             {"max_removed": "0"})
    dns.srv([(10, 1, int(urls["a"].rsplit(":", 1)[1]), "a.svc.test.")])
    assert proc.wait_log(r"held: .*removes 1 of 2 backends"), proc.describe()
    assert set(pool_backends(proc)) == set(urls.values())
    config = Path(proc.args[proc.args.index("-c") + 1])
    config.write_text(config.read_text().replace('max_removed = "0"', 'max_removed = "50%"'))
    proc.send_signal(signal.SIGHUP)
    wait_pool_backends(proc, {urls["a"]})


def test_reload_to_another_source_drops_the_old_ones(l4lb, workdir, processes, servers):
    proc, dns, listen, urls = start_with_two(l4lb, workdir, processes, servers)
    other = tcp_url(free_port())
    servers(other, name="other")
    dns.a("other.svc.test.", "127.0.0.1")
    dns.control("local_data", f"_other._tcp.svc.test. 1 IN SRV 10 1 "
                              f"{other.rsplit(':', 1)[1]} other.svc.test.")
    config = Path(proc.args[proc.args.index("-c") + 1])
    config.write_text(config.read_text().replace(SRV, "_other._tcp.svc.test."))
    proc.send_signal(signal.SIGHUP)
    found = wait_pool_backends(proc, {other})
    assert found[other]["source"] == "dns:_other._tcp.svc.test."
    # The new source was asked by the reload itself: the pool never went without backends.
    assert proc.wait_log(r"reloaded .*\+backend " + re.escape(other)), proc.describe()


@pytest.mark.skipif(not ipv6_loopback_available(), reason="no ::1")
def test_aaaa_records(l4lb, workdir, processes, servers):
    dns = Dns(workdir, processes)
    port = free_port("::1")
    url = tcp_url(port, "::1")
    servers(url, name="six")
    dns.control("local_data", "six.svc.test. 1 IN AAAA ::1")
    listen = tcp_url(free_port())
    proc = l4lb(discover_config(listen, dns, {"dns": "six.svc.test.", "type": "AAAA",
                                              "port": port}), ready=[listen])
    found = wait_pool_backends(proc, {f"tcp://[::1]:{port}"})
    assert wait_until(lambda: all(b["state"] == "up" for b in pool_backends(proc).values()),
                      10), found
    assert ask_name(listen) == "six"
