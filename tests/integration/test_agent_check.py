"""The agent check (issue 15: HAProxy's agent-check): a tiny agent beside each backend answers
one line per connection, and l4lb applies it as the admin API would: "drain" keeps new
connections off the backend, "ready" brings it back, "maint" disables it, "N%" sets its weight to
N% of the config's. "down", "fail", "stopped" take the backend down and "up" lifts that, never
against a failing active check. An agent that stops answering changes nothing."""

from __future__ import annotations

import re
import socket
import subprocess
import threading
from pathlib import Path

from harness import (IO_TIMEOUT, L4LB_BIN, ask_name, free_port, pool_backend, simple_config,
                     tcp_url, wait_until)


class Agent:
    """A TCP agent on loopback: with `reads`, first reads what l4lb sends (the pool's agent
    `send`); answers `line`, closes."""

    def __init__(self, line: str, reads: bool = True):
        self.line = line
        self.reads = reads
        self.asked: list[bytes] = []
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.sock.settimeout(0.1)
        self.port = self.sock.getsockname()[1]
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True, name="agent")
        self._thread.start()

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            with conn:
                conn.settimeout(1)
                try:
                    if self.reads:
                        self.asked.append(conn.recv(256))
                    conn.sendall(self.line.encode())
                except OSError:
                    pass

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


def names(listen: str, n: int) -> set[str]:
    return {ask_name(listen) for _ in range(n)}


def test_agent_drains_readies_disables_and_weighs_a_backend(l4lb, servers):
    a = servers(tcp_url(free_port()), name="a")
    b = servers(tcp_url(free_port()), name="b")
    agent_a = Agent("ready\n")
    agent_b = Agent("up 100%\r\n")
    listen = tcp_url(free_port())
    try:
        proc = l4lb(simple_config(
            listen,
            [{"address": a.url, "name": "a", "agent": tcp_url(agent_a.port)},
             {"address": b.url, "name": "b", "weight": 4, "agent": tcp_url(agent_b.port)}],
            global_={"workers": 1},
            pool={"agent": {"interval": "100ms", "timeout": "500ms", "send": "back/b\\n"}}),
            ready=[listen])
        assert proc.wait_log(r'backend b: agent says weight 100%, up', 5), proc.describe()
        # agent-send: the agent was told which backend it is asked about.
        assert wait_until(lambda: b"back/b\n" in agent_b.asked, 5), agent_b.asked
        assert names(listen, 10) == {"a", "b"}

        agent_b.line = "drain\n"
        assert proc.wait_log(r"backend b: enabled -> draining \(agent\)", 5), proc.describe()
        assert names(listen, 10) == {"a"}

        agent_b.line = "ready\n"
        assert proc.wait_log(r"backend b: draining -> enabled \(agent\)", 5), proc.describe()
        assert wait_until(lambda: "b" in names(listen, 4), 5), proc.describe()

        agent_b.line = "maint # upgrading\n"
        assert proc.wait_log(r"backend b: enabled -> disabled \(agent\)", 5), proc.describe()
        assert names(listen, 10) == {"a"}

        # 50% of the config's weight 4; "ready" ends the maintenance in the same line.
        agent_b.line = "ready,50%\n"
        assert proc.wait_log(r"backend b: weight 4 -> 2 \(agent\)", 5), proc.describe()
        assert proc.wait_log(r"backend b: disabled -> enabled \(agent\)", 5), proc.describe()
        assert wait_until(lambda: "b" in names(listen, 4), 5), proc.describe()

        # 0% drains, as a zero weight would; a weight again ends that drain.
        agent_b.line = "0%\n"
        drained = r"backend b: enabled -> draining \(agent\)"
        assert wait_until(lambda: len(re.findall(drained, proc.stderr())) == 2, 5), \
            proc.describe()
        agent_b.line = "75%\n"
        assert proc.wait_log(r"backend b: weight 2 -> 3 \(agent\)", 5), proc.describe()
        assert wait_until(lambda: "b" in names(listen, 4), 5), proc.describe()

        # Without active checks too, "fail" takes b down and "up" brings it back.
        agent_b.line = "fail#no disk\n"
        assert proc.wait_log(r"backend b: up -> down \(agent: fail#no disk\)", 5), proc.describe()
        assert names(listen, 10) == {"a"}
        agent_b.line = "up 75%\n"
        assert proc.wait_log(r"backend b: down -> up \(agent: up\)", 5), proc.describe()
        assert wait_until(lambda: "b" in names(listen, 4), 5), proc.describe()

        # An agent that is gone changes nothing: b keeps its weight and state.
        agent_b.stop()
        assert proc.wait_log(r"backend b: no answer from its agent", 5), proc.describe()
        assert wait_until(lambda: "b" in names(listen, 4), 5), proc.describe()
    finally:
        agent_a.stop()
        agent_b.stop()


def test_agent_on_each_backends_host_at_the_pool_port(l4lb, servers):
    """Without a backend's own `agent`, it is asked on the backend's host at the pool's port."""
    agent = Agent("drain\n", reads=False)
    a = servers(tcp_url(free_port()), name="a")
    b = servers(tcp_url(free_port("127.0.0.2"), "127.0.0.2"), name="b") if can_bind("127.0.0.2") else None
    listen = tcp_url(free_port())
    try:
        backends = [{"address": a.url, "name": "a"}]
        if b is not None:
            # 127.0.0.2 at the same port has no agent: b is not drained.
            backends.append({"address": b.url, "name": "b"})
        proc = l4lb(simple_config(listen, backends, global_={"workers": 1},
                                  pool={"agent": {"port": agent.port, "interval": "100ms"}}),
                    ready=[listen])
        assert proc.wait_log(r"backend a: enabled -> draining \(agent\)", 5), proc.describe()
        if b is not None:
            assert proc.wait_log(r"backend b: no answer from its agent tcp://127\.0\.0\.2:", 5), \
                proc.describe()
            assert names(listen, 6) == {"b"}
    finally:
        agent.stop()


def can_bind(host: str) -> bool:
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind((host, 0))
        return True
    except OSError:
        return False


CHECK = {"check": "tcp", "interval": "100ms", "timeout": "500ms", "rise": 1, "fall": 1}


# a's agent: never answers (nothing listens at a port of its own), which changes nothing.
SILENT_AGENT = tcp_url(free_port())


def two_with_agent_config(listen: str, sock: str, a_url: str, b_url: str, agent_port: int,
                          check: dict = CHECK) -> str:
    """Pool "back": a, and b with its agent; both with active tcp checks."""
    text = simple_config(
        listen,
        [{"address": a_url, "name": "a", "agent": SILENT_AGENT},
         {"address": b_url, "name": "b", "agent": tcp_url(agent_port)}],
        global_={"workers": 2},
        pool={"health": check, "agent": {"interval": "100ms", "timeout": "500ms"}})
    return text + f'\n[admin]\nlisten = ["unix://{sock}"]\n'


def test_agent_down_takes_the_backend_out_and_its_up_brings_it_back(l4lb, servers, workdir):
    a = servers(tcp_url(free_port()), name="a")
    b = servers(tcp_url(free_port()), name="b")
    agent_b = Agent("up\n", reads=False)
    listen = tcp_url(free_port())
    sock = str(workdir / "admin.sock")
    try:
        proc = l4lb(two_with_agent_config(listen, sock, a.url, b.url, agent_b.port),
                    ready=[listen])
        assert wait_until(lambda: pool_backend(sock, "b")["state"] == "up", 10), proc.describe()
        assert wait_until(lambda: "b" in names(listen, 4), 5), proc.describe()

        agent_b.line = "down#maintenance window\n"
        assert proc.wait_log(r"backend b: up -> down \(agent: down#maintenance window\)", 5), \
            proc.describe()
        assert names(listen, 20) == {"a"}, "a backend its agent took down gets no connection"
        shown = pool_backend(sock, "b")
        assert shown["state"] == "down" and shown["health"] == "down", shown
        assert shown["last_change"]["to"] == "down", shown
        assert shown["last_change"]["reason"] == "agent: down#maintenance window", shown
        assert shown["agent"] == "down#maintenance window", shown
        assert shown["last_check"]["result"] == "ok", "its own check still passes"
        table = subprocess.run([L4LB_BIN, "ctl", "--socket", f"unix://{sock}", "pool", "back"],
                               capture_output=True, text=True, timeout=IO_TIMEOUT + 5)
        assert "agent: down#maintenance window" in table.stdout, table.stdout

        agent_b.line = "up\n"
        assert proc.wait_log(r"backend b: down -> up \(agent: up\)", 5), proc.describe()
        assert wait_until(lambda: "b" in names(listen, 4), 5), proc.describe()
        shown = pool_backend(sock, "b")
        assert shown["state"] == "up" and shown["last_change"]["reason"] == "agent: up", shown

        # An agent that is gone changes nothing: its last word ("stopped" here) stands.
        agent_b.line = "stopped#upgrading\n"
        assert proc.wait_log(r"backend b: up -> down \(agent: stopped#upgrading\)", 5), \
            proc.describe()
        agent_b.stop()
        assert proc.wait_log(r"backend b: no answer from its agent", 5), proc.describe()
        assert names(listen, 10) == {"a"}
        assert pool_backend(sock, "b")["state"] == "down"
    finally:
        agent_b.stop()


def test_agent_up_never_overrides_a_failing_active_check(l4lb, servers, workdir):
    a = servers(tcp_url(free_port()), name="a")
    b_url = tcp_url(free_port())  # nothing listens yet: b's checks are refused
    agent_b = Agent("down#checking\n", reads=False)
    listen = tcp_url(free_port())
    sock = str(workdir / "admin.sock")
    try:
        proc = l4lb(two_with_agent_config(listen, sock, a.url, b_url, agent_b.port),
                    ready=[listen])
        # Both say down (in either order); then the agent alone says up.
        assert proc.wait_log(r"backend b: agent says down", 10), proc.describe()
        assert wait_until(lambda: (pool_backend(sock, "b")["last_check"] or {}).get("result")
                          == "failed", 10), pool_backend(sock, "b")
        agent_b.line = "up\n"
        assert proc.wait_log(r"backend b: agent says up", 5), proc.describe()
        assert proc.wait_log(r"backend b: its agent says up, but it stays down", 5), \
            proc.describe()
        assert names(listen, 20) == {"a"}
        shown = pool_backend(sock, "b")
        assert shown["state"] == "down" and shown["agent"] == "up", shown
        assert shown["last_check"]["result"] == "failed", shown

        # Both say up: b is back.
        servers(b_url, name="b")
        assert proc.wait_log(r"backend b: down -> up \(tcp check", 10), proc.describe()
        assert wait_until(lambda: "b" in names(listen, 4), 5), proc.describe()
        assert pool_backend(sock, "b")["state"] == "up"
    finally:
        agent_b.stop()


def test_agents_down_survives_a_reload_that_keeps_the_agent(l4lb, servers, workdir):
    a = servers(tcp_url(free_port()), name="a")
    b = servers(tcp_url(free_port()), name="b")
    agent_b = Agent("down#disk full\n", reads=False)
    listen = tcp_url(free_port())
    sock = str(workdir / "admin.sock")
    try:
        proc = l4lb(two_with_agent_config(listen, sock, a.url, b.url, agent_b.port),
                    ready=[listen])
        assert proc.wait_log(r"backend b: \w+ -> down \(agent: down#disk full\)", 10), \
            proc.describe()
        # The agent stops answering, then a reload changes the checks but not the agent: its
        # word stands, so b stays out though its own checks pass.
        agent_b.stop()
        assert proc.wait_log(r"backend b: no answer from its agent", 5), proc.describe()
        config = Path(proc.args[proc.args.index("-c") + 1])
        config.write_text(two_with_agent_config(listen, sock, a.url, b.url, agent_b.port,
                                                dict(CHECK, interval="150ms")))
        reloaded = subprocess.run([L4LB_BIN, "ctl", "--socket", f"unix://{sock}", "reload"],
                                  capture_output=True, text=True, timeout=IO_TIMEOUT + 5)
        assert reloaded.returncode == 0, reloaded.stderr
        # The new checks have run (their first result is shown) and the agent is still silent.
        assert wait_until(lambda: (pool_backend(sock, "b")["last_check"] or {}).get("result")
                          == "ok", 10), pool_backend(sock, "b")
        assert names(listen, 20) == {"a"}
        shown = pool_backend(sock, "b")
        assert shown["state"] == "down", shown
        assert shown["last_change"]["reason"] == "agent: down#disk full", shown
        assert shown["agent"] == "down#disk full", shown
    finally:
        agent_b.stop()
