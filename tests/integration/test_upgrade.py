"""Binary upgrade (`l4lb run -c FILE --upgrade-from unix:///ADMIN.sock`): the new process takes
the running one's listening sockets, so no connection is refused, and its proxied connections
(both sockets, the bytes l4lb holds, splice pipes), so a client in the middle of a session
carries on over the same TCP connection. The old process exits once it holds nothing. A new
process that fails before it serves leaves the old one serving everything."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest
from harness import (L4lb, ask_name, can_connect, connect, dig, free_port,
                     free_udp_port, recv_exact, server_udp_url, start_redis, start_unbound,
                     tcp_url, udp_client, udp_server, udp_url, wait_until)
from health import MariadbServers, mariadb_available
from test_admin_api import curl
import test_reload
from test_reload import Load, pool_of

DONE = r"upgrade from pid \d+ done: serving (\d+) listeners of it and (\d+) connections"


class Setup(test_reload.Setup):
    """One config file, served first by the old process and then by the new one."""

    def write(self, listeners: list[dict], pools: dict, global_: dict | None = None) -> None:
        super().write(listeners, pools, {"shutdown_grace": "20s", **(global_ or {})})

    def start_old(self, l4lb, ready: list[str], checked: int = 0):
        """`checked`: backends with active checks, waited for until each is up (until its first
        check a backend takes no connection, and the test's first one would be refused)."""
        proc = self.start(l4lb, ready)
        wait_all_up(proc, checked)
        return proc

    def start_new(self, l4lb, path: Path | None = None):
        return l4lb(args=["-c", str(path or self.path), "--upgrade-from", f"unix://{self.sock}"])


def wait_all_up(proc, checked: int) -> None:
    assert wait_until(lambda: len(re.findall(r": unknown -> up", proc.stderr())) >= checked, 20), \
        proc.describe()


def upgrade(l4lb, setup: Setup, old) -> tuple:
    """Starts the new process, waits until it has taken everything and the old one has exited.
    Returns (new process, connections handed over)."""
    new = setup.start_new(l4lb)
    done = new.wait_log(DONE, 30)
    assert done is not None, new.describe() + "\n" + old.describe()
    assert old.wait(30) == 0, "the old process did not exit by itself\n" + old.describe()
    return new, int(done.group(2))


def test_upgrade_under_load_fails_no_connection_and_the_old_process_exits(l4lb, servers, workdir):
    b = [servers(tcp_url(free_port()), name=f"b{i}") for i in range(2)]
    listen = tcp_url(free_port())
    setup = Setup(workdir)
    setup.write([{"name": "front", "bind": listen, "pool": "web"}], {"web": pool_of(b)})
    old = setup.start_old(l4lb, [listen], checked=2)
    load = Load(listen, threads=3)
    try:
        time.sleep(0.5)
        before = load.ok
        new, _ = upgrade(l4lb, setup, old)
        time.sleep(0.5)
        after = load.ok
    finally:
        load.stop()
    assert before > 50 and load.ok > after > before, (before, after, load.ok)
    assert not load.failures, (f"{len(load.failures)} of {load.ok} failed: {load.failures[:5]}\n"
                               + old.describe() + "\n" + new.describe())
    assert "no longer accepting here" in old.stderr()
    # The admin API is the new process's now.
    status, body = curl(setup.sock, "GET", "/api/v1/status")
    assert status == 200 and body["pid"] == new.pid, body
    assert {ask_name(listen) for _ in range(4)} == {"b0", "b1"}
    assert not os.path.exists(f"{setup.sock}.upgrade-{old.pid}")


def redis_cli(port: int) -> subprocess.Popen:
    return subprocess.Popen(["redis-cli", "-p", str(port)], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, text=True, bufsize=1)


def ask(cli: subprocess.Popen, command: str) -> str:
    cli.stdin.write(command + "\n")
    cli.stdin.flush()
    line = cli.stdout.readline()
    assert line, "redis-cli ended"
    return line.strip()


def stream_echo(conn: socket.socket, server) -> None:
    """Sends back every byte it receives, until EOF."""
    conn.settimeout(30)
    while True:
        data = conn.recv(1 << 16)
        if not data:
            conn.shutdown(socket.SHUT_WR)
            return
        conn.sendall(data)


class Streamer:
    """Sends `total` pseudo-random bytes through the proxy to an echo backend while reading
    them back, paced so the transfer spans the upgrade; compares SHA-256 of both."""

    def __init__(self, url: str, total: int):
        self.sock = connect(url, timeout=30)
        self.total = total
        self.sent = hashlib.sha256()
        self.received = hashlib.sha256()
        self.received_bytes = 0
        self.error: str | None = None
        self._writer = threading.Thread(target=self._write, daemon=True)
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._writer.start()
        self._reader.start()

    def _write(self) -> None:
        chunk = 1 << 20
        seed = b"l4lb-upgrade"
        try:
            for i in range(self.total // chunk):
                block = hashlib.shake_256(seed + i.to_bytes(4, "big")).digest(chunk)
                self.sent.update(block)
                self.sock.sendall(block)
                time.sleep(0.02)
            self.sock.shutdown(socket.SHUT_WR)
        except OSError as e:
            self.error = f"write: {e!r}"

    def _read(self) -> None:
        try:
            while self.received_bytes < self.total:
                data = self.sock.recv(1 << 16)
                if not data:
                    break
                self.received.update(data)
                self.received_bytes += len(data)
        except OSError as e:
            self.error = f"read: {e!r}"

    def finish(self) -> None:
        self._writer.join(60)
        self._reader.join(60)
        self.sock.close()


def test_redis_session_and_a_stream_carry_on_over_the_same_connections(l4lb, processes, servers,
                                                                        workdir):
    redis_port = free_port()
    processes.append(start_redis(workdir, redis_port))
    echo = servers(tcp_url(free_port()), handler=stream_echo)
    redis_listen, stream_listen = tcp_url(free_port()), tcp_url(free_port())
    setup = Setup(workdir)
    setup.write([{"name": "redis", "bind": redis_listen, "pool": "redis"},
                 {"name": "stream", "bind": stream_listen, "pool": "echo"}],
                {"redis": {"backends": [{"address": tcp_url(redis_port)}]},
                 "echo": {"backends": [{"address": echo.url}]}})
    old = setup.start_old(l4lb, [redis_listen, stream_listen])
    cli = redis_cli(int(redis_listen.rsplit(":", 1)[1]))
    try:
        client_id = ask(cli, "CLIENT ID")
        assert ask(cli, "SET k before") == "OK"
        for _ in range(100):
            ask(cli, "INCR n")
        # 96 MiB at about 50 MiB/s: the transfer is in full flight (splice pipes in use) when the
        # connections move.
        streamer = Streamer(stream_listen, 96 << 20)
        time.sleep(0.7)
        new, handed = upgrade(l4lb, setup, old)
        streamer.finish()
        # The same TCP connection to redis: the same client id, and what it did before.
        assert ask(cli, "CLIENT ID") == client_id
        assert ask(cli, "GET k") == "before"
        assert ask(cli, "INCR n") == "101"
    finally:
        cli.stdin.close()
        cli.wait(10)
    assert handed == 2, new.describe()
    assert streamer.error is None, streamer.error
    assert streamer.received_bytes == streamer.total
    assert streamer.received.hexdigest() == streamer.sent.hexdigest()
    assert re.search(r"handed-over=2", old.stderr()), old.describe()


def test_a_new_process_that_fails_leaves_the_old_one_serving(l4lb, servers, workdir):
    b = servers(tcp_url(free_port()), name="b0")
    listen = tcp_url(free_port())
    setup = Setup(workdir)
    setup.write([{"name": "front", "bind": listen, "pool": "web"}], {"web": pool_of([b])})
    old = setup.start_old(l4lb, [listen], checked=1)
    held = connect(listen)
    assert held.recv(16) == b"b0\n"

    # An invalid config: refused before it reaches the old process.
    bad = setup.path.with_name("bad.toml")
    bad.write_text(setup.path.read_text().replace('pool = "web"', 'pool = "nowhere"', 1))
    first = setup.start_new(l4lb, bad)
    assert first.wait(20) == 1, first.describe()
    assert "upgrade" not in old.stderr()

    # A config whose new listener cannot be bound: it fails after taking the sockets, before it
    # serves them; the old process keeps them and goes on.
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen()
    busy = tcp_url(taken.getsockname()[1])
    clash = setup.path.with_name("clash.toml")
    setup.write([{"name": "front", "bind": listen, "pool": "web"},
                 {"name": "busy", "bind": busy, "pool": "web"}], {"web": pool_of([b])})
    setup.path.rename(clash)
    setup.write([{"name": "front", "bind": listen, "pool": "web"}], {"web": pool_of([b])})
    second = setup.start_new(l4lb, clash)
    assert second.wait(20) == 1, second.describe()
    taken.close()
    assert old.wait_log(r"upgrade failed, still serving everything here", 10), old.describe()
    assert old.alive()
    assert all(ask_name(listen) == "b0" for _ in range(5))
    held.sendall(b"ping\n")
    assert recv_exact(held, 5) == b"ping\n"

    # And a good one after them takes over.
    new, handed = upgrade(l4lb, setup, old)
    assert handed == 1
    held.sendall(b"ping\n")
    assert recv_exact(held, 5) == b"ping\n"
    held.close()
    assert ask_name(listen) == "b0"


def test_unix_and_udp_listeners_move_and_keep_their_paths(l4lb, processes, servers, workdir):
    b = servers(tcp_url(free_port()), name="b0")
    dns_port = free_udp_port()
    processes.append(start_unbound(workdir, dns_port, {"upgrade.test.": "192.0.2.53"}))
    path = str(workdir / "front.sock")
    abstract = f"unix://@l4lb-upgrade-{os.getpid()}"
    udp_port = free_udp_port()
    udp_listen = udp_url(udp_port)
    setup = Setup(workdir)
    setup.write([{"name": "path", "bind": f"unix://{path}", "pool": "web"},
                 {"name": "abstract", "bind": abstract, "pool": "web"},
                 {"name": "dns", "bind": udp_listen, "pool": "dns"}],
                {"web": pool_of([b]), "dns": {"backends": [{"address": udp_url(dns_port)}]}})
    old = setup.start_old(l4lb, [f"unix://{path}", abstract, udp_listen], checked=1)
    assert dig("127.0.0.1", udp_port, "upgrade.test.") == ["192.0.2.53"]
    upgrade(l4lb, setup, old)
    # The old process left the socket path alone: it is the new process's.
    assert os.path.exists(path)
    assert ask_name(f"unix://{path}") == "b0"
    assert ask_name(abstract) == "b0"
    assert dig("127.0.0.1", udp_port, "upgrade.test.", tries=2) == ["192.0.2.53"]


def test_udp_flows_move_with_their_backend_sockets(l4lb, workdir):
    backend = udp_server(reply=None)  # answers only when the test says
    try:
        udp_port = free_udp_port()
        setup = Setup(workdir)
        setup.write([{"name": "dgram", "bind": udp_url(udp_port), "pool": "udp",
                      "flow_idle_timeout": "1m"}],
                    {"udp": {"backends": [{"address": server_udp_url(backend)}]}})
        old = setup.start_old(l4lb, [udp_url(udp_port)])
        client = udp_client(timeout=5)
        client.sendto(b"question", ("127.0.0.1", udp_port))
        assert wait_until(lambda: backend.received == [b"question"], 5), backend.received
        flow_socket = backend.peers[0]  # l4lb's connected socket for this client's flow
        new, handed = upgrade(l4lb, setup, old)
        assert handed == 1, new.describe()
        # The old process is gone; the reply to its flow's socket still reaches the client.
        backend.sock.sendto(b"late answer", flow_socket)
        assert client.recvfrom(100)[0] == b"late answer"
        # And the client's next datagram travels the same flow.
        client.sendto(b"again", ("127.0.0.1", udp_port))
        assert wait_until(lambda: len(backend.received) == 2, 5), backend.received
        assert backend.peers[1] == flow_socket
        client.close()
    finally:
        backend.stop()


def test_udp_flows_stay_beside_their_socket_when_the_new_process_has_fewer_workers(l4lb, workdir):
    """Two workers, two SO_REUSEPORT sockets; the new process has one worker serving both. Each
    client's datagrams keep coming in on the socket the kernel hashes it to, so its flow must
    be taken over beside that socket, or the next datagram starts a new flow (a new socket to the
    backend: a new source port there, and the old flow's replies stranded)."""
    backend = udp_server(reply=None)
    clients = []
    try:
        udp_port = free_udp_port()
        listeners = [{"name": "dgram", "bind": udp_url(udp_port), "pool": "udp",
                      "flow_idle_timeout": "1m"}]
        pools = {"udp": {"backends": [{"address": server_udp_url(backend)}]}}
        setup = Setup(workdir)
        setup.write(listeners, pools, {"workers": 2})
        fewer = Setup(workdir)
        fewer.path = workdir / "one-worker.toml"
        fewer.write(listeners, pools, {"workers": 1})
        old = setup.start_old(l4lb, [udp_url(udp_port)])
        # 16 client ports: both sockets get some of them (all on one: 2 in 65,536).
        clients = [udp_client(timeout=5) for _ in range(16)]
        for i, client in enumerate(clients):
            client.sendto(b"first %d" % i, ("127.0.0.1", udp_port))
        assert wait_until(lambda: len(backend.received) == 16, 5), backend.received
        flow_socket = {backend.received[k].split()[1]: backend.peers[k] for k in range(16)}
        new = setup.start_new(l4lb, fewer.path)
        done = new.wait_log(DONE, 30)
        assert done is not None, new.describe() + "\n" + old.describe()
        assert old.wait(30) == 0, old.describe()
        assert int(done.group(2)) == 16, new.describe()
        for i, client in enumerate(clients):
            client.sendto(b"again %d" % i, ("127.0.0.1", udp_port))
        assert wait_until(lambda: len(backend.received) == 32, 5), backend.received
        moved = {backend.received[k].split()[1]: backend.peers[k] for k in range(16, 32)}
        assert moved == flow_socket, new.describe()
    finally:
        for client in clients:
            client.close()
        backend.stop()


def test_a_new_process_that_dies_after_taking_the_listeners_leaves_the_old_one_accepting(
        l4lb, servers, workdir):
    b = servers(tcp_url(free_port()), name="b0")
    listen = tcp_url(free_port())
    setup = Setup(workdir)
    setup.write([{"name": "front", "bind": listen, "pool": "web"}], {"web": pool_of([b])})
    old = setup.start_old(l4lb, [listen], checked=1)
    new = setup.start_new(l4lb)
    # The old process stops accepting once the new one serves, then sweeps its sessions for
    # about a second before it lets the admin API go: the new one dies in between.
    assert old.wait_log(r"no longer accepting here", 20), old.describe()
    new.send_signal(signal.SIGKILL)
    assert new.wait(10) == -signal.SIGKILL
    assert old.wait_log(r"upgrade failed after the new process took the listeners", 10), \
        old.describe()
    assert old.alive()
    assert wait_until(lambda: can_connect(listen), 5)
    assert all(ask_name(listen) == "b0" for _ in range(10))
    status, body = curl(setup.sock, "GET", "/api/v1/status")
    assert status == 200 and body["pid"] == old.pid, body


def gone(pid: int) -> bool:
    """Exited: no such process, or a zombie nobody reaps (no init in a container)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


def test_sigusr2_starts_the_binary_now_at_its_path_and_hands_everything_to_it(l4lb_bin, servers,
                                                                               workdir):
    b = servers(tcp_url(free_port()), name="b0")
    listen = tcp_url(free_port())
    setup = Setup(workdir)
    setup.write([{"name": "front", "bind": listen, "pool": "web"}], {"web": pool_of([b])})
    # A copy of the binary, replaced as a package upgrade does (a new file renamed over it).
    installed = workdir / "l4lb"
    shutil.copy(l4lb_bin, installed)
    old = L4lb(["run", "-c", str(setup.path)], workdir, str(installed))
    new_pid = None
    try:
        old.wait_ready([listen])
        assert old.wait_log(r"admin API listening on"), old.describe()
        wait_all_up(old, 1)
        held = connect(listen)
        assert held.recv(16) == b"b0\n"
        shutil.copy(l4lb_bin, workdir / "l4lb.new")
        os.rename(workdir / "l4lb.new", installed)
        old.send_signal(signal.SIGUSR2)
        started = old.wait_log(r"SIGUSR2: started .* \(pid (\d+)\) to take over", 10)
        assert started is not None, old.describe()
        new_pid = int(started.group(1))
        assert old.wait(30) == 0, old.describe()
        status, body = curl(setup.sock, "GET", "/api/v1/status")
        assert status == 200 and body["pid"] == new_pid, body
        held.sendall(b"ping\n")
        assert recv_exact(held, 5) == b"ping\n"
        held.close()
        assert ask_name(listen) == "b0"
        # The new process logs to the same stderr as the old one did.
        assert re.search(DONE, old.stderr()), old.describe()
    finally:
        old.stop()
        if new_pid is not None and not gone(new_pid):
            os.kill(new_pid, signal.SIGTERM)
            assert wait_until(lambda: gone(new_pid), 30), f"pid {new_pid} did not stop"


@pytest.mark.skipif(not mariadb_available(), reason="mariadb-server not installed")
def test_a_mariadb_session_carries_on_with_its_session_state(l4lb, workdir):
    servers = MariadbServers()
    try:
        db = servers.start(args=["--skip-name-resolve"])
        db.sql("CREATE USER 'app'@'127.0.0.1'; GRANT ALL ON *.* TO 'app'@'127.0.0.1';")
        listen = tcp_url(free_port())
        setup = Setup(workdir)
        setup.write([{"name": "mysql", "bind": listen, "pool": "db"}],
                    {"db": {"backends": [{"address": db.url}],
                            "health": {"check": "mysql", "user": "app", "interval": "500ms"}}})
        old = setup.start_old(l4lb, [listen], checked=1)
        host, port = listen.removeprefix("tcp://").rsplit(":", 1)
        cli = subprocess.Popen(["mariadb", "--no-defaults", "-h", host, "-P", port, "-u", "app",
                                "-N", "-B", "--unbuffered"],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, bufsize=1)
        try:
            connection_id = ask(cli, "SELECT CONNECTION_ID();")
            assert ask(cli, "SET @kept = 'before the upgrade'; SELECT @kept;") == \
                "before the upgrade"
            new, handed = upgrade(l4lb, setup, old)
            assert handed == 1, new.describe()
            # The same server session: its id and its variable.
            assert ask(cli, "SELECT CONNECTION_ID();") == connection_id
            assert ask(cli, "SELECT @kept;") == "before the upgrade"
        finally:
            cli.stdin.close()
            cli.wait(10)
        assert cli.returncode == 0
        assert db.status("Aborted_clients") == 0
    finally:
        servers.stop_all()


def test_bytes_held_in_the_relay_buffer_move_too(l4lb, servers, workdir):
    """splice off: with the client not reading, l4lb holds what the backend sent in its 16 KiB
    buffer (the sockets' buffers full on both sides); those bytes travel in the handoff."""
    total = 8 << 20
    blob = hashlib.shake_256(b"held bytes").digest(total)

    def firehose(conn: socket.socket, server) -> None:
        conn.settimeout(30)
        try:
            conn.sendall(blob)
            conn.shutdown(socket.SHUT_WR)
            conn.recv(1)
        except OSError:
            pass

    backend = servers(tcp_url(free_port()), handler=firehose)
    listen = tcp_url(free_port())
    setup = Setup(workdir)
    setup.write([{"name": "bulk", "bind": listen, "pool": "bulk"}],
                {"bulk": {"backends": [{"address": backend.url}]}}, {"splice": "off"})
    old = setup.start_old(l4lb, [listen])
    client = connect(listen, timeout=30)
    client.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 << 10)
    time.sleep(1.0)  # everything that fits is in flight; l4lb's buffer is full and waiting
    new, handed = upgrade(l4lb, setup, old)
    assert handed == 1, new.describe()
    received = hashlib.sha256()
    count = 0
    while True:
        data = client.recv(1 << 16)
        if not data:
            break
        received.update(data)
        count += len(data)
    client.close()
    assert count == total
    assert received.hexdigest() == hashlib.sha256(blob).hexdigest()
