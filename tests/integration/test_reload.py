"""Hot reload (SIGHUP, POST /api/v1/reload, `l4lb ctl reload`): the new config is checked
whole first; a bad one changes nothing. A good one takes over without refusing or breaking a
connection: listeners whose bind is unchanged keep their sockets, new ones start, removed ones
stop accepting while their connections finish; open connections keep their backend; health
states and the operator's drains carry over."""

from __future__ import annotations

import collections
import re
import signal
import socket
import threading
import time
from pathlib import Path

from harness import (ask_name, config_toml, connect, dig, dns_query, free_port, free_udp_port,
                     recv_exact, recv_line, start_unbound, tcp_url, udp_url, wait_until)
from test_admin_api import ctl, curl

CYCLES = 50_000  # per client thread, at most (the load stops when the reloads are done)
# A backend's health state change, as the health thread logs it.
STATE_CHANGE = re.compile(r'pool "\w+" backend \w+: \w+ -> \w+')
RELOADS = 10


class Setup:
    """A config file of the test's own (rewritten for each reload) and the admin socket."""

    def __init__(self, workdir: Path):
        self.path = workdir / "reload.toml"
        self.sock = str(workdir / "admin.sock")

    def write(self, listeners: list[dict], pools: dict, global_: dict | None = None) -> None:
        text = config_toml(listeners, pools, {"workers": 2, **(global_ or {})})
        text += f'\n[admin]\nlisten = ["unix://{self.sock}"]\n'
        self.path.write_text(text)

    def start(self, l4lb, ready: list[str]):
        proc = l4lb(args=["-c", str(self.path)], ready=ready)
        assert proc.wait_log(r"admin API listening on"), proc.describe()
        return proc

    def ctl_reload(self):
        return ctl("--socket", f"unix://{self.sock}", "reload")


def pool_of(servers: list, health: bool = True, weights: list[int] | None = None) -> dict:
    pool = {"balance": "round-robin", "retries": 2,
            "backends": [{"address": s.url, "name": s.name,
                          **({"weight": weights[i]} if weights else {})}
                         for i, s in enumerate(servers)]}
    if health:
        pool["health"] = {"check": "tcp", "interval": "200ms", "rise": 1, "fall": 2}
    return pool


class Load:
    """Client threads, each making connect + request + answer cycles until stopped (bounded in
    count and time); every failure is kept."""

    def __init__(self, url: str, threads: int = 2):
        self.url = url
        self.ok = 0
        self.failures: list[str] = []
        self.names: collections.Counter = collections.Counter()
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        for t in self._threads:
            t.start()

    def _run(self) -> None:
        deadline = time.monotonic() + 90
        for _ in range(CYCLES):
            if self._stop.is_set() or time.monotonic() > deadline:
                return
            try:
                with connect(self.url) as s:
                    name = recv_line(s).decode().strip()
                    s.sendall(b"ping\n")
                    assert recv_exact(s, 5) == b"ping\n"
                with self._lock:
                    self.ok += 1
                    self.names[name] += 1
            except (OSError, AssertionError) as e:
                with self._lock:
                    self.failures.append(repr(e))

    def stop(self) -> None:
        self._stop.set()
        for t in self._threads:
            t.join(30)


def test_ten_reloads_under_load_refuse_nothing(l4lb, servers, workdir):
    b = [servers(tcp_url(free_port()), name=f"b{i}") for i in range(3)]
    listen, extra = tcp_url(free_port()), tcp_url(free_port())
    setup = Setup(workdir)
    front = {"name": "front", "bind": listen, "pool": "web"}

    def config(n: int) -> None:
        # Even: b0 and b1, and a second listener; odd: b1 and b2 (weights 1:3), without it.
        if n % 2 == 0:
            setup.write([front, {"name": "extra", "bind": extra, "pool": "web"}],
                        {"web": pool_of([b[0], b[1]])})
        else:
            setup.write([front], {"web": pool_of([b[1], b[2]], weights=[1, 3])})

    config(0)
    proc = setup.start(l4lb, [listen, extra])
    assert wait_until(lambda: len(STATE_CHANGE.findall(proc.stderr())) >= 2, 10), proc.describe()
    load = Load(listen)
    try:
        for n in range(1, RELOADS + 1):
            time.sleep(0.3)
            config(n)
            if n % 2:
                proc.send_signal(signal.SIGHUP)
                assert proc.wait_log(rf"reloaded {setup.path}", 10) is not None, proc.describe()
                # Wait for this reload's line, not an earlier one.
                assert wait_until(lambda: proc.stderr().count(f"reloaded {setup.path}") >= n, 10)
            else:
                out = setup.ctl_reload()
                assert out.returncode == 0, out.stdout + out.stderr
                assert "reloaded" in out.stdout
        time.sleep(0.5)
        wait_until(lambda: load.ok > 200, 60)  # however slow the machine, enough cycles ran
    finally:
        load.stop()
    assert load.ok > 200, f"only {load.ok} cycles ran"
    assert not load.failures, f"{len(load.failures)} failed: {load.failures[:5]}"
    # The last config (even: b0 and b1) is what new connections get now.
    after = collections.Counter(ask_name(listen) for _ in range(20))
    assert set(after) == {"b0", "b1"}, after
    # The extra listener exists again (even configs have it).
    assert ask_name(extra) in ("b0", "b1")
    status, body = curl(setup.sock, "GET", "/api/v1/status")
    assert status == 200 and body["reloads"]["ok"] == RELOADS, body


def test_invalid_reload_changes_nothing(l4lb, servers, workdir):
    b0 = servers(tcp_url(free_port()), name="b0")
    listen = tcp_url(free_port())
    setup = Setup(workdir)
    setup.write([{"name": "front", "bind": listen, "pool": "web"}],
                {"web": pool_of([b0], health=False)})
    proc = setup.start(l4lb, [listen])
    _, before = curl(setup.sock, "GET", "/api/v1/status")
    good = setup.path.read_text()
    setup.path.write_text(good.replace('pool = "web"', 'pool = "web"\nidle_timout = "5s"', 1))
    out = setup.ctl_reload()
    assert out.returncode == 1
    assert f"{setup.path}:" in out.stderr and "idle_timout" in out.stderr, out.stderr
    assert 'did you mean "idle_timeout"' in out.stderr, out.stderr
    # The same through the API, and a SIGHUP logs it; the running config is untouched.
    status, body = curl(setup.sock, "POST", "/api/v1/reload", "")
    assert status == 400 and "idle_timout" in body["error"], body
    proc.send_signal(signal.SIGHUP)
    assert wait_until(lambda: proc.stderr().count("reload failed, still serving") >= 3, 10)
    assert ask_name(listen) == "b0"
    _, after = curl(setup.sock, "GET", "/api/v1/status")
    assert after["config"]["sha256"] == before["config"]["sha256"]
    assert after["reloads"]["failed"] == 3 and after["reloads"]["last"]["result"] == "failed"
    # A config naming a port that is taken fails before anything changes, too.
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        setup.write([{"name": "front", "bind": listen, "pool": "web"},
                     {"name": "taken", "bind": tcp_url(port), "pool": "web"}],
                    {"web": pool_of([b0], health=False)})
        out = setup.ctl_reload()
        assert out.returncode == 1 and "taken" in out.stderr, out.stderr
    assert ask_name(listen) == "b0"


def test_connections_outlive_their_listener_and_backend(l4lb, servers, workdir):
    b0, b1 = (servers(tcp_url(free_port()), name=f"b{i}") for i in range(2))
    keep, gone = tcp_url(free_port()), tcp_url(free_port())
    setup = Setup(workdir)
    setup.write([{"name": "keep", "bind": keep, "pool": "a"},
                 {"name": "gone", "bind": gone, "pool": "a"}],
                {"a": pool_of([b0], health=False)})
    proc = setup.start(l4lb, [keep, gone])
    # Opened before: through the listener the reload removes, to the backend it removes.
    s1 = connect(gone)
    s2 = connect(keep)
    assert recv_line(s1) == b"b0\n" and recv_line(s2) == b"b0\n"
    setup.write([{"name": "keep", "bind": keep, "pool": "a"}], {"a": pool_of([b1], health=False)})
    out = setup.ctl_reload()
    assert out.returncode == 0, out.stderr
    assert '-listener "gone"' in out.stdout, out.stdout
    try:
        for s in (s1, s2):
            s.sendall(b"still here\n")
            assert recv_exact(s, 11) == b"still here\n"
        # New connections follow the new config; the removed listener refuses.
        assert ask_name(keep) == "b1"
        host, port = gone.removeprefix("tcp://").rsplit(":", 1)
        refused = False
        try:
            socket.create_connection((host, int(port)), timeout=2).close()
        except ConnectionRefusedError:
            refused = True
        assert refused
    finally:
        s1.close()
        s2.close()
    assert proc.stop() == 0


def test_drain_and_health_carry_over(l4lb, servers, workdir):
    b0, b1 = (servers(tcp_url(free_port()), name=f"b{i}") for i in range(2))
    listen = tcp_url(free_port())
    setup = Setup(workdir)
    setup.write([{"name": "front", "bind": listen, "pool": "web"}], {"web": pool_of([b0, b1])})
    proc = setup.start(l4lb, [listen])
    assert wait_until(lambda: len(STATE_CHANGE.findall(proc.stderr())) >= 2, 10), proc.describe()
    status, _ = curl(setup.sock, "PATCH", "/api/v1/pools/web/backends/b0", '{"state": "drain"}')
    assert status == 200
    assert wait_until(lambda: set(ask_name(listen) for _ in range(6)) == {"b1"}, 10)
    # The same pool with one setting changed: b0 stays drained, and no backend goes through
    # "unknown" (which would refuse connections until the first checks).
    setup.write([{"name": "front", "bind": listen, "pool": "web", "idle_timeout": "5m"}],
                {"web": pool_of([b0, b1])})
    offset = len(proc.stderr())
    out = setup.ctl_reload()
    assert out.returncode == 0, out.stderr
    assert {ask_name(listen) for _ in range(10)} == {"b1"}
    _, pool = curl(setup.sock, "GET", "/api/v1/pools/web")
    states = {b["name"]: (b["admin_state"], b["health"]) for b in pool["backends"]}
    assert states == {"b0": ("draining", "up"), "b1": ("enabled", "up")}, states
    time.sleep(0.6)  # a few check intervals: nothing flaps
    assert not STATE_CHANGE.findall(proc.stderr()[offset:]), proc.stderr()[offset:]


def test_udp_flows_and_unix_listener_carry_over(l4lb, processes, servers, workdir):
    dns_port = free_udp_port()
    processes.append(start_unbound(workdir, dns_port, {"a.test.": "192.0.2.1"}))
    b0 = servers(tcp_url(free_port()), name="b0")
    udp = free_udp_port()
    unix = f"unix://{workdir}/front.sock"
    setup = Setup(workdir)

    def write(idle: str) -> None:
        setup.write([{"name": "dns", "bind": udp_url(udp), "pool": "dns",
                      "flow_idle_timeout": idle},
                     {"name": "unix", "bind": unix, "pool": "web"}],
                    {"dns": {"backends": [{"address": udp_url(dns_port)}]},
                     "web": pool_of([b0], health=False)})

    write("30s")
    proc = setup.start(l4lb, [unix])
    client = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    client.settimeout(5)
    with client:
        client.bind(("127.0.0.1", 0))
        client.sendto(dns_query("a.test."), ("127.0.0.1", udp))
        assert client.recvfrom(4096)[0][:2] == b"\x12\x34"
        held = connect(unix)
        assert recv_line(held) == b"b0\n"
        write("20s")
        out = setup.ctl_reload()
        assert out.returncode == 0, out.stderr
        # The same flow (same client socket) goes on; the Unix socket is the same one.
        client.sendto(dns_query("a.test.", qid=0x4321), ("127.0.0.1", udp))
        assert client.recvfrom(4096)[0][:2] == b"\x43\x21"
        held.sendall(b"x\n")
        assert recv_exact(held, 2) == b"x\n"
        held.close()
        assert dig("127.0.0.1", udp, "a.test") == ["192.0.2.1"]
        with connect(unix) as s:
            assert recv_line(s) == b"b0\n"
    proc.stop()
    totals = {k: v for k, v in (kv.split("=") for kv in
                                proc.stderr().split("datagram totals: ")[1].split()[:40]
                                if "=" in kv)}
    assert int(totals["flows_created"]) == 2, totals  # the held client's flow, and dig's


def test_api_adds_and_removes_backends(l4lb, servers, workdir):
    b0, b1 = (servers(tcp_url(free_port()), name=f"b{i}") for i in range(2))
    listen = tcp_url(free_port())
    setup = Setup(workdir)
    setup.write([{"name": "front", "bind": listen, "pool": "web"}],
                {"web": pool_of([b0], health=False)})
    proc = setup.start(l4lb, [listen])
    held = connect(listen)  # to b0, which the API removes below
    assert recv_line(held) == b"b0\n"
    sock = f"unix://{setup.sock}"
    out = ctl("--socket", sock, "add", "web", b1.url, "--name", "b1", "--weight", "3")
    assert out.returncode == 0, out.stdout + out.stderr
    assert "b1" in out.stdout
    assert wait_until(lambda: "b1" in {ask_name(listen) for _ in range(8)}, 10)
    # Refused: a second b1, a datagram address in a stream pool, the last backend of a pool.
    status, body = curl(setup.sock, "POST", "/api/v1/pools/web/backends",
                        f'{{"address": "{b1.url}", "name": "b1"}}')
    assert status == 400 and "duplicate backend name" in body["error"], body
    status, body = curl(setup.sock, "POST", "/api/v1/pools/web/backends",
                        '{"address": "udp://127.0.0.1:53"}')
    assert status == 400 and "stream" in body["error"], body
    # The file's checks and messages, naming the key as in the file (config/ reads the entry).
    status, body = curl(setup.sock, "POST", "/api/v1/pools/web/backends",
                        '{"address": "tcp://127.0.0.1:1", "name": "b9", "weight": 0}')
    assert status == 400 and "pool.web.backends[2].weight" in body["error"], body
    status, body = curl(setup.sock, "POST", "/api/v1/pools/web/backends",
                        '{"address": "tcp://127.0.0.1:1", "name": "b9", "colour": "red"}')
    assert status == 400 and "colour" in body["error"], body
    out = ctl("--socket", sock, "remove", "web", "b0")
    assert out.returncode == 0, out.stdout + out.stderr
    assert {ask_name(listen) for _ in range(8)} == {"b1"}
    # The connection already on b0 goes on: b0 drains.
    held.sendall(b"on b0\n")
    assert recv_exact(held, 6) == b"on b0\n"
    held.close()
    status, body = curl(setup.sock, "DELETE", "/api/v1/pools/web/backends/b1")
    assert status == 400 and "last backend" in body["error"], body
    _, pool = curl(setup.sock, "GET", "/api/v1/pools/web")
    assert [(b["name"], b["weight"]) for b in pool["backends"]] == [("b1", 3)], pool
    # A reload from the file goes back to what the file says.
    out = setup.ctl_reload()
    assert out.returncode == 0, out.stderr
    assert {ask_name(listen) for _ in range(4)} == {"b0"}
    assert proc.stop() == 0


def test_reload_line_and_dry_run_say_what_changed_for_backends_and_settings(l4lb, servers,
                                                                           workdir):
    """A weight change, a backend added and a check's fall changed: `ctl reload --dry-run` lists
    each, per pool and backend, and changes nothing; the reload's log line then says the same
    (it said "listeners and pools as before (settings may differ)")."""
    b0, b1, b2 = (servers(tcp_url(free_port()), name=f"b{i}") for i in range(3))
    listen = tcp_url(free_port())
    setup = Setup(workdir)
    setup.write([{"name": "front", "bind": listen, "pool": "web"}],
                {"web": pool_of([b0, b1])})
    proc = setup.start(l4lb, [listen])
    changed = pool_of([b0, b1, b2], weights=[1, 4, 1])
    changed["health"]["fall"] = 3
    setup.write([{"name": "front", "bind": listen, "pool": "web",
                  "max_connections": 500}], {"web": changed})
    expected = ['pool "web": backend b1: weight 1 -> 4',
                f'pool "web": +backend b2 ({b2.url}) weight 1',
                'pool "web": health fall 2 -> 3',
                'listener "front": max_connections 0 -> 500']

    dry = ctl("--socket", f"unix://{setup.sock}", "reload", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    for change in expected:
        assert change in dry.stdout.splitlines(), dry.stdout
    assert "reloaded" not in proc.stderr(), "a dry run reloaded"
    _, pool = curl(setup.sock, "GET", "/api/v1/pools/web")
    assert len(pool["backends"]) == 2, pool  # nothing changed

    proc.send_signal(signal.SIGHUP)
    line = proc.wait_log(rf"reloaded {re.escape(str(setup.path))}: .*", 10)
    assert line, proc.describe()
    for change in expected:
        assert change in line.group(0), line.group(0)
    assert "settings may differ" not in line.group(0)

    dry = ctl("--socket", f"unix://{setup.sock}", "reload", "--dry-run")
    assert dry.returncode == 0 and dry.stdout.strip() == "a reload would change nothing", \
        dry.stdout
