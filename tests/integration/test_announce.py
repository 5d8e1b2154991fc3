"""Announcing VIPs (README.md, "Announcing VIPs"): l4lb puts the address of each listener with
`announce = true` on a TUN interface it owns while the listener is served with enough backends
up, and takes it off when that stops holding, when the operator drains the listener, or when
l4lb stops. The interface is not persistent: a `kill -9` makes it vanish with every address. A
binary upgrade hands it on, so the addresses never leave it.

Each test runs l4lb in a network namespace of its own (`ip netns exec`), where the VIPs are on
`lo` and the interface name l4vip0 is free; the admin API is a unix:// socket in the test's
directory, reachable from here."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest
from harness import L4LB_BIN, admin_get, config_toml, start_unbound, wait_until
from netns import netns_available
from test_admin_api import curl, ctl

pytestmark = pytest.mark.skipif(not netns_available(),
                                reason="needs root and `ip` to make a network namespace")

VIP = "198.51.100.10"
QUIET_VIP = "198.51.100.11"  # served, never announced
INTERFACE = "l4vip0"
CHECKED_PORT = 9100  # inside the namespace: nothing else listens there
DNS_PORT = 9153  # the same


def _ip(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", *args], capture_output=True, text=True, timeout=20, check=check)


class Namespace:
    """`with Namespace() as ns:` an empty network namespace with VIP and QUIET_VIP on its lo."""

    def __init__(self):
        self.name = f"l4an{os.getpid() % 100000}"

    def __enter__(self) -> "Namespace":
        self.close()
        _ip("netns", "add", self.name)
        _ip("-n", self.name, "link", "set", "lo", "up")
        for address in (VIP, QUIET_VIP):
            _ip("-n", self.name, "addr", "add", f"{address}/32", "dev", "lo")
        return self

    def wrap(self, argv: list[str]) -> list[str]:
        return ["ip", "netns", "exec", self.name, *argv]

    def interface_addresses(self) -> list[str] | None:
        """The IPv4 addresses on the announce interface; None when there is no such interface."""
        out = _ip("-n", self.name, "-o", "-4", "addr", "show", "dev", INTERFACE, check=False)
        if out.returncode != 0:
            return None
        return re.findall(r"inet (\S+)", out.stdout)

    def has_interface(self) -> bool:
        return _ip("-n", self.name, "link", "show", INTERFACE, check=False).returncode == 0

    def echo_error(self, port: int) -> str:
        """"" when a line sent to VIP:port inside the namespace came back (through l4lb to the
        CheckedBackend, an echo server), else why."""
        probe = ("import socket\n"
                 f"c = socket.create_connection(('{VIP}', {port}), timeout=3)\n"
                 "c.sendall(b'ping\\n')\n"
                 "got = b''\n"
                 "while not got.endswith(b'\\n'):\n"
                 "    more = c.recv(100)\n"
                 "    assert more, got\n"
                 "    got += more\n"
                 "assert got == b'ping\\n', got\n")
        out = subprocess.run(self.wrap(["/usr/bin/python3", "-c", probe]), capture_output=True,
                             text=True, timeout=10)
        return "" if out.returncode == 0 else out.stderr[-500:] or f"exit {out.returncode}"

    def close(self) -> None:
        _ip("netns", "del", self.name, check=False)

    def __exit__(self, *exc) -> None:
        self.close()


class CheckedBackend:
    """A TCP server inside the namespace (socat), for the pool's health check to find."""

    def __init__(self, ns: Namespace):
        self.ns = ns
        self.proc: subprocess.Popen | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.ns.wrap(["socat", f"TCP-LISTEN:{CHECKED_PORT},bind=127.0.0.1,fork,reuseaddr",
                          "EXEC:/bin/cat"]),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

        def listening() -> bool:
            out = subprocess.run(self.ns.wrap(["ss", "-Hltn", f"sport = :{CHECKED_PORT}"]),
                                 capture_output=True, text=True, timeout=10)
            return str(CHECKED_PORT) in out.stdout

        assert wait_until(listening, 5), "socat did not listen in the namespace"

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


@pytest.fixture
def ns():
    with Namespace() as namespace:
        yield namespace


@pytest.fixture
def echo(ns):
    """The pool's backend, an echo server, running in the namespace."""
    backend = CheckedBackend(ns)
    backend.start()
    yield backend
    backend.stop()


def announce_config(workdir: Path, checked: bool = False, global_: dict | None = None,
                    listener: dict | None = None, pool: dict | None = None) -> tuple[Path, str]:
    """A config with listener "front" (announced, on VIP) and "quiet" (on QUIET_VIP); the path
    and its admin socket. `pool`: more keys of pool "back"."""
    sock = f"{workdir}/admin.sock"
    front = {"name": "front", "bind": f"tcp://{VIP}:8080", "pool": "back", "announce": True}
    front.update(listener or {})
    quiet = {"name": "quiet", "bind": f"tcp://{QUIET_VIP}:8081", "pool": "back"}
    back = {"backends": [{"address": f"tcp://127.0.0.1:{CHECKED_PORT}"}], **(pool or {})}
    if checked:
        back["health"] = {"check": "tcp", "interval": "100ms", "timeout": "500ms", "rise": 1,
                          "fall": 1}
    text = config_toml([front, quiet], {"back": back},
                       {"announce_interface": INTERFACE, **(global_ or {})})
    text += f'\n[admin]\nlisten = ["unix://{sock}"]\n'
    path = workdir / "announce.toml"
    path.write_text(text)
    return path, sock


def start_in(l4lb, ns: Namespace, path: Path, extra: list[str] | None = None):
    proc = l4lb(args=["-c", str(path)] + (extra or []), wrapper=ns.wrap([]))
    proc.wait_ready([f"tcp://{VIP}:8080"])
    return proc


def announced(ns: Namespace) -> bool:
    return f"{VIP}/32" in (ns.interface_addresses() or [])


def announce_view(sock: str) -> dict:
    status, body = curl(sock, "GET", "/api/v1/announce")
    assert status == 200, body
    (view,) = body["vips"]
    return view


def test_the_vip_is_on_the_interface_while_served_and_kill_9_takes_the_interface_away(
        l4lb, ns, workdir):
    path, sock = announce_config(workdir)
    proc = start_in(l4lb, ns, path)
    assert wait_until(lambda: announced(ns), 10), (ns.interface_addresses(), proc.describe())
    # Only the listener that asks is announced; both are served.
    assert f"{QUIET_VIP}/32" not in ns.interface_addresses()
    view = announce_view(sock)
    assert view["listener"] == "front" and view["vip"] == VIP and view["announced"] is True
    proc.send_signal(signal.SIGKILL)
    assert proc.wait(10) is not None
    # No code of l4lb runs any more: the kernel alone takes the interface and its addresses away.
    assert wait_until(lambda: not ns.has_interface(), 5), ns.interface_addresses()


def test_a_vip_is_withdrawn_when_its_backends_go_down_and_announced_again_after_the_hold_down(
        l4lb, ns, workdir):
    backend = CheckedBackend(ns)
    backend.start()
    try:
        path, sock = announce_config(workdir, checked=True, global_={"announce_hold_down": "1s"})
        proc = start_in(l4lb, ns, path)
        assert wait_until(lambda: announced(ns), 10), proc.describe()

        backend.stop()
        assert wait_until(lambda: not announced(ns), 10), proc.describe()
        view = announce_view(sock)
        assert (view["announced"], view["reason"], view["backends_up"]) == (False,
                                                                             "no backends up", 0)
        out = ctl("--socket", sock, "announce")
        assert out.returncode == 0, out.stderr
        assert "no backends up (0 of 1)" in out.stdout, out.stdout
        assert ns.has_interface()  # the interface stays; only the address goes

        backend.start()
        # Healthy again: held down first (the API says until when), then announced.
        seen = []
        assert wait_until(lambda: seen.append(announce_view(sock)["reason"]) or announced(ns),
                          15), proc.describe()
        assert "hold-down" in seen, seen
        metrics = admin_get(sock, "/metrics")
        assert f'l4lb_vip_announced{{listener="front",vip="{VIP}"}} 1' in metrics, metrics
        assert f'l4lb_vip_announce_changes_total{{listener="front",vip="{VIP}"}} 3' in metrics
    finally:
        backend.stop()


def test_an_operator_drain_withdraws_the_vip_and_the_listener_keeps_accepting(l4lb, ns, workdir,
                                                                             echo):
    path, sock = announce_config(workdir)
    proc = start_in(l4lb, ns, path)
    assert wait_until(lambda: announced(ns), 10), proc.describe()
    out = ctl("--socket", sock, "listener-drain", "front")
    assert out.returncode == 0, out.stderr
    assert wait_until(lambda: not announced(ns), 5), proc.describe()
    assert announce_view(sock)["reason"] == "disabled"
    assert ns.echo_error(8080) == ""  # routers move away; what still arrives is served
    status, body = curl(sock, "GET", "/api/v1/listeners")
    assert {l["name"]: l["admin_state"] for l in body["listeners"]}["front"] == "draining"
    out = ctl("--socket", sock, "listener-enable", "front")
    assert out.returncode == 0, out.stderr
    # An operator's withdrawal says nothing about the pool: back at once, no hold-down.
    assert wait_until(lambda: announced(ns), 5), proc.describe()
    status, body = curl(sock, "PATCH", "/api/v1/listeners/nosuch", '{"state": "drain"}')
    assert status == 404, body


def test_sigterm_withdraws_first_and_serves_for_withdraw_grace_then_stops(l4lb, ns, workdir,
                                                                          echo):
    path, _ = announce_config(workdir, global_={"withdraw_grace": "3s"})
    proc = start_in(l4lb, ns, path)
    assert wait_until(lambda: announced(ns), 10), proc.describe()
    proc.send_signal(signal.SIGTERM)
    assert wait_until(lambda: not announced(ns), 5), proc.describe()
    # Withdrawn, and still accepting while routers move new flows away.
    assert proc.wait_log(r"VIPs withdrawn from l4vip0; still accepting") is not None
    assert proc.alive()
    assert ns.echo_error(8080) == "", proc.describe()
    assert proc.wait(20) == 0, proc.describe()
    log = proc.stderr()
    assert log.index("VIPs withdrawn") < log.index("no longer accepting"), log
    assert wait_until(lambda: not ns.has_interface(), 5)


def test_a_listener_on_a_wildcard_address_cannot_be_announced(workdir):
    path = workdir / "wild.toml"
    path.write_text(config_toml(
        [{"name": "any", "bind": "tcp://0.0.0.0:8080", "pool": "back", "announce": True}],
        {"back": {"backends": [{"address": "tcp://127.0.0.1:9"}]}},
        {"announce_interface": INTERFACE}))
    out = subprocess.run([L4LB_BIN, "check", "-c", str(path)], capture_output=True, text=True,
                         timeout=20)
    assert out.returncode != 0
    assert re.search(rf"{re.escape(str(path))}:\d+:\d+: listener\[0\]\.announce: .*wildcard",
                     out.stderr), out.stderr


def test_announce_needs_a_valid_interface_name(workdir):
    path = workdir / "bad.toml"
    path.write_text(config_toml(
        [{"name": "front", "bind": f"tcp://{VIP}:8080", "pool": "back", "announce": True}],
        {"back": {"backends": [{"address": "tcp://127.0.0.1:9"}]}},
        {"announce_interface": "l4/vip"}))
    out = subprocess.run([L4LB_BIN, "check", "-c", str(path)], capture_output=True, text=True,
                         timeout=20)
    assert out.returncode != 0
    assert "global.announce_interface" in out.stderr, out.stderr
    # The listener's error says what is missing too.
    assert "listener[0].announce: needs [global] announce_interface" in out.stderr, out.stderr


def test_a_binary_upgrade_keeps_the_interface_and_its_addresses(l4lb, ns, workdir):
    path, sock = announce_config(workdir)
    old = start_in(l4lb, ns, path)
    assert wait_until(lambda: announced(ns), 10), old.describe()

    # Watch the interface the whole time, from before the new process starts until the old one
    # has exited (bounded: at most 60 s of polls).
    gaps: list[str] = []
    polls = 0
    stop = threading.Event()

    def watch():
        nonlocal polls
        deadline = time.monotonic() + 60
        while not stop.is_set() and time.monotonic() < deadline:
            addresses = ns.interface_addresses()
            polls += 1
            if addresses is None or f"{VIP}/32" not in addresses:
                gaps.append(repr(addresses))
            time.sleep(0.02)

    watcher = threading.Thread(target=watch)
    watcher.start()
    try:
        new = l4lb(args=["-c", str(path), "--upgrade-from", f"unix://{sock}"],
                   wrapper=ns.wrap([]))
        assert new.wait_log(r"upgrade from pid \d+ done", 30) is not None, \
            new.describe() + "\n" + old.describe()
        assert old.wait(30) == 0, old.describe()
        time.sleep(0.3)  # a few polls after the old process is gone
    finally:
        stop.set()
        watcher.join(70)
    assert polls > 0
    assert gaps == [], f"the VIP left the interface during the upgrade: {gaps[:5]}"
    assert new.wait_log(r'announce interface "l4vip0" taken over') is not None, new.describe()
    # The new process found the VIP announced and changed nothing.
    view = announce_view(sock)
    assert (view["announced"], view["changes"]) == (True, 0), view


def test_a_reload_announces_a_listener_that_asks_and_withdraws_one_that_no_longer_does(
        l4lb, ns, workdir):
    path, sock = announce_config(workdir)
    proc = start_in(l4lb, ns, path)
    assert wait_until(lambda: announced(ns), 10), proc.describe()
    text = path.read_text()
    # "front" stops announcing, "quiet" starts.
    text = text.replace("announce = true\n", "")
    text = text.replace('name = "quiet"\n', 'name = "quiet"\nannounce = true\n')
    path.write_text(text)
    out = ctl("--socket", sock, "reload")
    assert out.returncode == 0, out.stdout + out.stderr
    assert wait_until(lambda: (ns.interface_addresses() or []) == [f"{QUIET_VIP}/32"], 10), \
        (ns.interface_addresses(), proc.describe())
    status, body = curl(sock, "GET", "/api/v1/announce")
    assert [(v["listener"], v["announced"]) for v in body["vips"]] == [("quiet", True)], body


def test_an_ipv6_vip_is_announced_as_a_128_usable_at_once(l4lb, ns, workdir):
    vip6 = "2001:db8::10"
    _ip("-n", ns.name, "addr", "add", f"{vip6}/128", "dev", "lo", "nodad")
    path = workdir / "v6.toml"
    sock = f"{workdir}/admin.sock"
    path.write_text(config_toml(
        [{"name": "v6", "bind": f"tcp://[{vip6}]:8080", "pool": "back", "announce": True}],
        {"back": {"backends": [{"address": "tcp://127.0.0.1:9"}]}},
        {"announce_interface": INTERFACE}) + f'\n[admin]\nlisten = ["unix://{sock}"]\n')
    proc = l4lb(args=["-c", str(path)], wrapper=ns.wrap([]))
    proc.wait_ready([f"tcp://[{vip6}]:8080"])

    def v6_addresses() -> str:
        return _ip("-n", ns.name, "-o", "-6", "addr", "show", "dev", INTERFACE,
                   check=False).stdout

    assert wait_until(lambda: f"{vip6}/128" in v6_addresses(), 10), (v6_addresses(),
                                                                     proc.describe())
    # Added with nodad: never "tentative", so a routing daemon exports it at once.
    line = next(ln for ln in v6_addresses().splitlines() if f"{vip6}/128" in ln)
    assert "tentative" not in line, line
    assert announce_view(sock)["vip"] == vip6


def test_a_listener_drained_before_a_binary_upgrade_stays_withdrawn_after_it(l4lb, ns, workdir):
    path, sock = announce_config(workdir)
    old = start_in(l4lb, ns, path)
    assert wait_until(lambda: announced(ns), 10), old.describe()
    out = ctl("--socket", sock, "listener-drain", "front")
    assert out.returncode == 0, out.stderr
    assert wait_until(lambda: not announced(ns), 5), old.describe()

    new = l4lb(args=["-c", str(path), "--upgrade-from", f"unix://{sock}"], wrapper=ns.wrap([]))
    assert new.wait_log(r"upgrade from pid \d+ done", 30) is not None, new.describe()
    assert old.wait(30) == 0, old.describe()
    assert new.wait_log(r'listener "front": draining \(carried over by the binary upgrade\)') \
        is not None, new.describe()
    # The new process has decided (its API answers once the old one let it go): still withdrawn.
    assert wait_until(lambda: announce_view(sock)["reason"] == "disabled", 10), \
        (announce_view(sock), new.describe())
    assert not announced(ns)
    out = ctl("--socket", sock, "listener-enable", "front")
    assert out.returncode == 0, out.stderr
    assert wait_until(lambda: announced(ns), 5), new.describe()


@pytest.mark.skipif(not shutil.which("unbound"), reason="no unbound")
def test_a_vip_waits_for_its_pools_discovery_to_have_synced_once(l4lb, ns, workdir, echo,
                                                                  processes):
    # The pool has its echo backend, up (no checks), and discovers more from a DNS server in the
    # namespace that does not answer yet: its backends are not known, so the VIP waits.
    discover = {"dns": "app.svc.test.", "type": "A", "port": CHECKED_PORT + 1,
                "server": f"127.0.0.1:{DNS_PORT}", "interval": "500ms", "min_interval": "200ms",
                "settle": "300ms", "timeout": "500ms"}
    path, sock = announce_config(workdir, pool={"discover": discover})
    proc = start_in(l4lb, ns, path)
    assert wait_until(lambda: (announce_view(sock)["discovery"] or "").startswith("error: "),
                      15), (announce_view(sock), proc.describe())
    view = announce_view(sock)
    assert (view["announced"], view["reason"], view["backends_up"]) == \
        (False, "discovery not synced", 1), view
    assert "dns:app.svc.test." in view["discovery"], view
    assert not announced(ns), ns.interface_addresses()
    out = ctl("--socket", sock, "announce")
    assert out.returncode == 0, out.stderr
    assert "discovery not synced: error: " in out.stdout, out.stdout

    # The server answers: its backend is applied, and the VIP is announced (no hold-down: it
    # was never withdrawn for health).
    processes.append(start_unbound(workdir, DNS_PORT, {"app.svc.test.": "127.0.0.1"},
                                   wrapper=ns.wrap([])))
    assert wait_until(lambda: announced(ns), 15), (announce_view(sock), proc.describe())
    view = announce_view(sock)
    assert (view["announced"], view["reason"], view["discovery"], view["backends_up"]) == \
        (True, None, None, 2), view

    # Synced once is enough: the server's outage removes no backend and withdraws nothing.
    processes[-1].stop()
    assert wait_until(lambda: curl(sock, "GET", "/api/v1/pools/back")[1]["discovery"]["state"]
                      == "error", 15), proc.describe()
    assert announced(ns) and announce_view(sock)["announced"] is True


def test_a_listener_drain_is_kept_in_the_state_file_over_a_restart(l4lb, ns, workdir, echo):
    state = workdir / "state.json"
    path, sock = announce_config(workdir, global_={"state_file": str(state)})
    first = start_in(l4lb, ns, path)
    assert wait_until(lambda: announced(ns), 10), first.describe()
    out = ctl("--socket", sock, "listener-drain", "front")
    assert out.returncode == 0, out.stderr
    assert wait_until(lambda: not announced(ns), 5), first.describe()
    saved = json.loads(state.read_text())
    assert saved["listeners"] == [{"listener": "front", "state": "draining"}], saved
    # A reload keeps it, in memory and in the file it writes again.
    out = ctl("--socket", sock, "reload")
    assert out.returncode == 0, out.stdout + out.stderr
    assert json.loads(state.read_text())["listeners"] == saved["listeners"]
    first.stop()
    assert wait_until(lambda: not ns.has_interface(), 5)

    second = start_in(l4lb, ns, path)
    assert second.wait_log(r'listener "front": draining \(restored from the state file\)') \
        is not None, second.describe()
    assert second.wait_log(r"state_file .*: 0 of 1 saved backend restored .*, 1 of 1 listener") \
        is not None, second.describe()
    view = announce_view(sock)
    # Restored before the first decision: never announced by this process.
    assert (view["announced"], view["reason"], view["changes"]) == (False, "disabled", 0), view
    assert not announced(ns)
    status, body = curl(sock, "GET", "/api/v1/listeners")
    assert {l["name"]: l["admin_state"] for l in body["listeners"]}["front"] == "draining"

    out = ctl("--socket", sock, "listener-enable", "front")
    assert out.returncode == 0, out.stderr
    assert wait_until(lambda: announced(ns), 5), second.describe()
    assert json.loads(state.read_text())["listeners"] == []
    second.stop()
    assert wait_until(lambda: not ns.has_interface(), 5)

    third = start_in(l4lb, ns, path)
    assert wait_until(lambda: announced(ns), 10), third.describe()
    assert "restored from the state file" not in third.stderr()
