"""systemd integration: sd_notify readiness and reload messages, socket activation by listener
name (systemd-socket-activate), and the [global] user/group privilege drop."""

from __future__ import annotations

import os
import pwd
import grp
import shutil
import signal
import socket
import subprocess
import time

import pytest

import harness
from harness import (ask_name, config_toml, free_port, free_udp_port, run_l4lb, simple_config,
                     tcp_url, udp_client, udp_server, server_udp_url, udp_url)

SOCKET_ACTIVATE = shutil.which("systemd-socket-activate")
needs_socket_activate = pytest.mark.skipif(SOCKET_ACTIVATE is None,
                                           reason="systemd-socket-activate is not installed")
needs_root = pytest.mark.skipif(os.geteuid() != 0, reason="changing user needs root")


class NotifySocket:
    """The service manager's end of sd_notify: an AF_UNIX datagram socket l4lb sends to."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)
        self.sock.settimeout(0.2)

    def next(self, timeout: float = harness.READY_TIMEOUT) -> dict[str, str]:
        """The next message as {field: value}; fails after `timeout`."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                data = self.sock.recv(65536)
            except socket.timeout:
                continue
            fields = {}
            for line in data.decode().split("\n"):
                key, _, value = line.partition("=")
                if key:
                    fields[key] = value
            return fields
        raise AssertionError(f"no sd_notify message within {timeout}s")

    def none_within(self, seconds: float) -> bool:
        try:
            self.sock.settimeout(seconds)
            self.sock.recv(65536)
            return False
        except socket.timeout:
            return True
        finally:
            self.sock.settimeout(0.2)

    def close(self):
        self.sock.close()


@pytest.fixture
def notify(workdir, monkeypatch):
    n = NotifySocket(workdir / "notify.sock")
    monkeypatch.setenv("NOTIFY_SOCKET", n.path)
    yield n
    n.close()


# ---------------------------------------------------------------------------------------------
# sd_notify


def test_notify_ready_only_once_the_listener_answers_then_reload_and_stop(
        l4lb, servers, notify, workdir):
    backend = servers(tcp_url(free_port()), name="alpha")
    front = tcp_url(free_port())
    proc = l4lb(simple_config(front, [backend.url]))
    ready = notify.next()
    # The first message is READY, and at that moment the listener already proxies.
    assert ready.get("READY") == "1", ready
    assert ask_name(front) == "alpha"
    assert ready.get("MAINPID") == str(proc.pid)
    assert "serving 1 listener on 2 workers" in ready.get("STATUS", "")

    # A reload from the file: RELOADING=1 (with the monotonic clock) first, READY=1 at the end.
    second = tcp_url(free_port())
    config = config_toml(
        [{"name": "front", "bind": front, "pool": "back"},
         {"name": "second", "bind": second, "pool": "back"}],
        {"back": {"backends": [{"address": backend.url}]}})
    config += f'\n[admin]\nlisten = ["unix://{workdir}/admin-0.sock"]\n'
    (workdir / "l4lb-0.toml").write_text(config)
    before_us = time.clock_gettime_ns(time.CLOCK_MONOTONIC) // 1000
    proc.send_signal(signal.SIGHUP)
    reloading = notify.next()
    assert reloading.get("RELOADING") == "1", reloading
    assert int(reloading["MONOTONIC_USEC"]) >= before_us
    done = notify.next()
    assert done.get("READY") == "1", done
    assert done["STATUS"].startswith("reloaded "), done
    assert "+listener \"second\"" in done["STATUS"]
    assert ask_name(second) == "alpha"

    # A failed reload also ends with READY=1: the old config keeps serving, and STATUS says so.
    (workdir / "l4lb-0.toml").write_text(config.replace('pool = "back"', 'pool = "nope"', 1))
    proc.send_signal(signal.SIGHUP)
    assert notify.next().get("RELOADING") == "1"
    failed = notify.next()
    assert failed.get("READY") == "1", failed
    assert failed["STATUS"].startswith("reload failed, still serving the config before"), failed
    assert "nope" in failed["STATUS"] and "\n" not in failed["STATUS"]
    assert ask_name(front) == "alpha"

    proc.send_signal(signal.SIGTERM)
    stopping = notify.next()
    assert stopping.get("STOPPING") == "1", stopping
    assert proc.wait(harness.EXIT_TIMEOUT) == 0


def test_notify_api_reload_is_reported_too(l4lb, servers, notify, workdir):
    backend = servers(tcp_url(free_port()), name="alpha")
    front = tcp_url(free_port())
    proc = l4lb(simple_config(front, [backend.url]))
    assert notify.next().get("READY") == "1"
    ctl = run_l4lb(["ctl", "--socket", f"unix://{workdir}/admin-0.sock", "reload"])
    assert ctl.returncode == 0, ctl.stderr
    assert notify.next().get("RELOADING") == "1"
    done = notify.next()
    assert done.get("READY") == "1" and done["STATUS"].startswith("reloaded "), done
    assert proc.alive()


def test_a_startup_error_sends_no_ready(l4lb, notify):
    # A bind that fails: l4lb exits 1 and never says READY.
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    proc = l4lb(simple_config(tcp_url(port), ["tcp://127.0.0.1:9"]))
    assert proc.wait(harness.EXIT_TIMEOUT) == 1
    assert notify.none_within(0.5)
    taken.close()


# ---------------------------------------------------------------------------------------------
# Socket activation


def activate(port: int, fdname: str, datagram: bool = False) -> list[str]:
    argv = [SOCKET_ACTIVATE, "-l", f"127.0.0.1:{port}", f"--fdname={fdname}"]
    return argv + (["--datagram"] if datagram else [])


def activated(l4lb, config: str, port: int, fdname: str, datagram: bool = False):
    """l4lb under systemd-socket-activate, once that listens (it starts l4lb on the first
    connection or datagram)."""
    proc = l4lb(config, wrapper=activate(port, fdname, datagram))
    assert proc.wait_log(rf"Listening on 127\.0\.0\.1:{port} as 3\."), proc.describe()
    return proc


def fd_flags(pid: int, fd: int) -> int:
    with open(f"/proc/{pid}/fdinfo/{fd}") as f:
        for line in f:
            if line.startswith("flags:"):
                return int(line.split()[1], 8)
    raise AssertionError(f"no flags for fd {fd} of {pid}")


def listening_sockets(port: int) -> int:
    out = subprocess.run(["ss", "-Hltn", f"sport = :{port}"], capture_output=True, text=True,
                         timeout=10).stdout
    return len([ln for ln in out.splitlines() if ln.strip()])


@needs_socket_activate
def test_activated_stream_socket_serves_the_listener_on_every_worker_and_survives_reload(
        l4lb, servers, workdir):
    backend = servers(tcp_url(free_port()), name="alpha")
    port = free_port()
    front = tcp_url(port)
    proc = activated(l4lb, simple_config(front, [backend.url], global_={"workers": 2}), port, "front")
    # systemd-socket-activate starts l4lb on the first connection, which waits in its backlog.
    assert ask_name(front) == "alpha"
    assert proc.wait_log(r'listener "front" \(tcp://127\.0\.0\.1:\d+\): serving the socket the '
                         r'service manager passed \(fd 3\), on every worker')
    # One socket for both workers: l4lb bound none of its own.
    assert listening_sockets(port) == 1
    # Made non-blocking and close-on-exec (systemd-socket-activate passes it blocking).
    flags = fd_flags(proc.pid, 3)
    assert flags & os.O_NONBLOCK and flags & os.O_CLOEXEC, oct(flags)
    names = {ask_name(front) for _ in range(20)}
    assert names == {"alpha"}

    # A reload keeps the listener (same bind): its passed socket stays, nothing is re-bound.
    proc.send_signal(signal.SIGHUP)
    assert proc.wait_log(r"reloaded .*listeners and pools as before")
    assert "failed" not in proc.stderr()
    assert listening_sockets(port) == 1
    assert ask_name(front) == "alpha"


@needs_socket_activate
def test_activated_socket_bound_elsewhere_is_a_startup_error_naming_both_addresses(
        l4lb, workdir):
    configured = free_port()
    passed = free_port()
    proc = activated(l4lb, simple_config(tcp_url(configured), ["tcp://127.0.0.1:9"]), passed, "front")
    client = socket.create_connection(("127.0.0.1", passed), timeout=5)
    assert proc.wait(harness.EXIT_TIMEOUT) == 1
    client.close()
    err = proc.stderr()
    assert (f'listener "front" (tcp://127.0.0.1:{configured}): passed socket "front" (fd 3): '
            f"it is bound to 127.0.0.1:{passed}, the listener to 127.0.0.1:{configured}") in err


@needs_socket_activate
def test_activated_datagram_socket_for_a_stream_listener_is_a_startup_error(l4lb):
    port = free_port()
    proc = activated(l4lb, simple_config(tcp_url(port), ["tcp://127.0.0.1:9"]), port, "front", datagram=True)
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(b"wake", ("127.0.0.1", port))
    assert proc.wait(harness.EXIT_TIMEOUT) == 1
    assert ('passed socket "front" (fd 3): it is a datagram socket, the listener needs a stream '
            "one") in proc.stderr()


@needs_socket_activate
def test_activated_socket_no_listener_claims_is_closed_and_listeners_bind_as_usual(
        l4lb, servers):
    backend = servers(tcp_url(free_port()), name="alpha")
    passed = free_port()
    front = tcp_url(free_port())
    proc = activated(l4lb, simple_config(front, [backend.url]), passed, "stray")
    waker = socket.create_connection(("127.0.0.1", passed), timeout=5)
    assert proc.wait_log(r'passed socket 0 \(fd 3, name "stray"\) matches no \[\[listener\]\] '
                         r"name: closed")
    proc.wait_ready([front])
    assert ask_name(front) == "alpha"
    # Closed: the queued connection is reset and nothing listens there any more.
    assert listening_sockets(passed) == 0
    waker.close()


@needs_socket_activate
def test_activated_unix_stream_socket_serves_the_listener_and_its_path_is_left_alone(
        l4lb, servers, workdir):
    backend = servers(tcp_url(free_port()), name="alpha")
    path = workdir / "front.sock"
    front = f"unix://{path}"
    proc = l4lb(simple_config(front, [backend.url]),
                wrapper=[SOCKET_ACTIVATE, "-l", str(path), "--fdname=front"])
    assert proc.wait_log(rf"Listening on {path} as 3\."), proc.describe()
    assert ask_name(front) == "alpha"
    assert proc.wait_log(r'listener "front" \(unix://.*\): serving the socket the service manager '
                         r"passed \(fd 3\), on every worker")
    proc.stop()
    # The path is the service manager's: l4lb does not unlink it.
    assert path.exists()


@needs_socket_activate
def test_activated_udp_socket_is_served(l4lb):
    backend = udp_server(prefix=b"echo:")
    try:
        port = free_udp_port()
        config = config_toml([{"name": "dns", "bind": udp_url(port), "pool": "dns"}],
                             {"dns": {"backends": [{"address": server_udp_url(backend)}]}})
        proc = activated(l4lb, config, port, "dns", datagram=True)
        # The first datagram wakes systemd-socket-activate, which only then starts l4lb (seconds
        # under the sanitizers on a busy machine); l4lb then reads it from the socket.
        client = udp_client(timeout=30.0)
        client.sendto(b"hello", ("127.0.0.1", port))
        data, _ = client.recvfrom(65536)
        assert data == b"echo:hello"
        assert proc.wait_log(r'listener "dns" .*serving the socket the service manager passed '
                             r"\(fd 3\), on worker 0")
        client.sendto(b"again", ("127.0.0.1", port))
        assert client.recvfrom(65536)[0] == b"echo:again"
        client.close()
    finally:
        backend.stop()


@needs_socket_activate
def test_activated_unixgram_socket_is_served_and_its_path_is_left_alone(l4lb, workdir):
    backend = harness.DatagramServer(socket.AF_INET, ("127.0.0.1", 0), prefix=b"echo:")
    path = workdir / "front.dgram"
    client_path = workdir / "client.dgram"
    try:
        config = config_toml(
            [{"name": "logs", "bind": f"unixgram://{path}", "pool": "sink"}],
            {"sink": {"backends": [{"address": server_udp_url(backend)}]}})
        proc = l4lb(config, wrapper=[SOCKET_ACTIVATE, "--datagram", "-l", str(path),
                                     "--fdname=logs"])
        assert proc.wait_log(rf"Listening on {path} as 3\."), proc.describe()
        client = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        client.bind(str(client_path))
        client.settimeout(5)
        client.sendto(b"one", str(path))
        assert client.recv(65536) == b"echo:one"
        assert proc.wait_log(r'listener "logs" .*serving the socket the service manager passed '
                             r"\(fd 3\), on worker 0")
        client.close()
        proc.stop()
        assert path.exists()
    finally:
        backend.stop()


# ---------------------------------------------------------------------------------------------
# [global] user / group


def proc_ids(pid: int) -> dict[str, list[int]]:
    ids = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            key, _, rest = line.partition(":")
            if key in ("Uid", "Gid", "Groups"):
                ids[key] = [int(x) for x in rest.split()]
    return ids


@needs_root
def test_user_and_group_are_dropped_to_after_binding_and_proxying_works(
        l4lb, servers, workdir):
    nobody = pwd.getpwnam("nobody")
    group = grp.getgrgid(nobody.pw_gid).gr_name
    backend = servers(tcp_url(free_port()), name="alpha")
    front = tcp_url(free_port())
    # The test's directory must be reachable by the user for `l4lb ctl` below.
    os.chmod(workdir, 0o755)
    proc = l4lb(simple_config(front, [backend.url],
                              global_={"user": "nobody", "group": group}), ready=[front])
    assert proc.wait_log(r'running as user "nobody" \(uid 65534\)')
    ids = proc_ids(proc.pid)
    assert ids["Uid"] == [nobody.pw_uid] * 4, ids
    assert ids["Gid"] == [nobody.pw_gid] * 4, ids
    assert 0 not in ids["Groups"], ids
    assert ask_name(front) == "alpha"
    # The admin socket was handed to the user: `l4lb ctl` works as that user.
    sock = workdir / "admin-0.sock"
    assert os.stat(sock).st_uid == nobody.pw_uid
    ctl = subprocess.run(["setpriv", "--reuid", "nobody", "--regid", group, "--clear-groups",
                          harness.L4LB_BIN, "ctl", "--socket", f"unix://{sock}", "status"],
                         capture_output=True, text=True, timeout=20)
    assert ctl.returncode == 0, ctl.stderr


def free_privileged_port() -> int:
    for port in range(900, 1024):
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
                return port
            except OSError:
                continue
    pytest.skip("no free port below 1024")


@needs_root
def test_reload_binding_a_privileged_port_after_the_drop_fails_and_the_old_config_serves(
        l4lb, servers, workdir):
    backend = servers(tcp_url(free_port()), name="alpha")
    front = tcp_url(free_port())
    os.chmod(workdir, 0o755)  # the user reads the file again on reload
    proc = l4lb(simple_config(front, [backend.url], global_={"user": "nobody"}), ready=[front])
    low = free_privileged_port()
    config = config_toml(
        [{"name": "front", "bind": front, "pool": "back"},
         {"name": "low", "bind": tcp_url(low), "pool": "back"}],
        {"back": {"backends": [{"address": backend.url}]}}, {"user": "nobody"})
    config += f'\n[admin]\nlisten = ["unix://{workdir}/admin-0.sock"]\n'
    (workdir / "l4lb-0.toml").write_text(config)
    proc.send_signal(signal.SIGHUP)
    line = proc.wait_log(r"reload failed, still serving the config before: .*")
    assert line, proc.stderr()
    assert f'listener "low" (tcp://127.0.0.1:{low}): bind: Permission denied' in line.group(0)
    assert "binding a port below 1024 or a root-only path needs a restart" in line.group(0)
    assert ask_name(front) == "alpha"


@needs_root
def test_changing_user_on_reload_needs_a_restart_and_is_kept(l4lb, servers, workdir):
    backend = servers(tcp_url(free_port()), name="alpha")
    front = tcp_url(free_port())
    os.chmod(workdir, 0o755)  # the user reads the file again on reload
    proc = l4lb(simple_config(front, [backend.url], global_={"user": "nobody"}), ready=[front])
    config = simple_config(front, [backend.url], global_={"user": "root"})
    config += f'\n[admin]\nlisten = ["unix://{workdir}/admin-0.sock"]\n'
    (workdir / "l4lb-0.toml").write_text(config)
    proc.send_signal(signal.SIGHUP)
    assert proc.wait_log(r'reload: global.user, global.group: "nobody":"" -> "root":"" needs a '
                         r"restart \(kept\)")
    assert proc.wait_log(r"reloaded ")
    assert proc_ids(proc.pid)["Uid"] == [65534] * 4


@needs_root
def test_reload_of_a_file_the_user_cannot_read_fails_clearly_and_the_old_config_serves(
        l4lb, servers, workdir):
    backend = servers(tcp_url(free_port()), name="alpha")
    front = tcp_url(free_port())
    proc = l4lb(simple_config(front, [backend.url], global_={"user": "nobody"}), ready=[front])
    # The test's directory is 0700 root: after the drop l4lb cannot open its config again.
    proc.send_signal(signal.SIGHUP)
    line = proc.wait_log(r"reload failed, still serving the config before: .*")
    assert line and "cannot open config file: Permission denied" in line.group(0), proc.stderr()
    assert ask_name(front) == "alpha"


def test_unknown_user_or_group_is_a_check_error_naming_file_line_and_key(workdir):
    path = workdir / "user.toml"
    path.write_text('[global]\nuser = "no-such-user-l4lb"\ngroup = "no-such-group-l4lb"\n'
                    '[[listener]]\nname = "a"\nbind = "tcp://127.0.0.1:1"\npool = "p"\n'
                    '[pool.p]\nbackends = [{ address = "tcp://127.0.0.1:2" }]\n')
    result = run_l4lb(["check", "-c", str(path)])
    assert result.returncode == 1
    assert (f'{path}:2:8: global.user: no such user "no-such-user-l4lb" on this machine'
            in result.stderr), result.stderr
    assert (f'{path}:3:9: global.group: no such group "no-such-group-l4lb" on this machine'
            in result.stderr), result.stderr


def test_group_without_user_is_a_check_error(workdir):
    path = workdir / "group.toml"
    path.write_text('[global]\ngroup = "nogroup"\n'
                    '[[listener]]\nname = "a"\nbind = "tcp://127.0.0.1:1"\npool = "p"\n'
                    '[pool.p]\nbackends = [{ address = "tcp://127.0.0.1:2" }]\n')
    result = run_l4lb(["check", "-c", str(path)])
    assert result.returncode == 1
    assert f"{path}:2:9: global.group: needs user" in result.stderr, result.stderr
