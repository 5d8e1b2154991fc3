"""A listening address is l4lb's alone (issue 15, defect 1): a second l4lb, or any other process
that listens with SO_REUSEPORT, is refused with an error naming the address and the other
process, and a start that fails binds nothing a client could connect to."""

from __future__ import annotations

import os
import signal
import socket
import subprocess

from harness import (L4LB_BIN, ask_name, config_toml, free_port, run_l4lb, simple_config,
                     tcp_url, wait_until)


def reuseport_holder(kind: int, port: int) -> subprocess.Popen:
    """A plain process (not l4lb) that holds 127.0.0.1:port with SO_REUSEPORT, as HAProxy or
    nginx with reuseport would, until its stdin closes."""
    code = (
        "import socket, sys\n"
        f"s = socket.socket(socket.AF_INET, {kind})\n"
        "s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)\n"
        f"s.bind(('127.0.0.1', {port}))\n"
        f"{'s.listen(16)' if kind == socket.SOCK_STREAM else 'pass'}\n"
        "print('ready', flush=True)\n"
        "sys.stdin.read()\n")
    holder = subprocess.Popen(["/usr/bin/python3", "-c", code], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "ready"
    return holder


def expect_refused(result: subprocess.CompletedProcess, address: str, pid: int, comm: str):
    assert result.returncode == 1, result.stderr
    assert f"{address} by pid {pid} ({comm})" in result.stderr, result.stderr
    assert "shares a listening address with no other process" in result.stderr, result.stderr


def test_second_l4lb_on_the_same_tcp_port_is_refused_naming_the_first(l4lb, servers, workdir):
    first_backend = servers(tcp_url(free_port()), name="first")
    second_backend = servers(tcp_url(free_port()), name="second")
    port = free_port()
    listen = tcp_url(port)
    first = l4lb(simple_config(listen, [first_backend.url], global_={"workers": 2}),
                 ready=[listen])
    other = workdir / "other.toml"
    other.write_text(simple_config(listen, [second_backend.url]) +
                     f'\n[admin]\nlisten = ["unix://{workdir}/other-admin.sock"]\n')
    result = run_l4lb(["run", "-c", str(other)])
    expect_refused(result, f"127.0.0.1:{port}", first.pid, "l4lb")
    # The first goes on serving every connection.
    assert [ask_name(listen) for _ in range(20)] == ["first"] * 20


def test_second_l4lb_on_the_same_udp_port_is_refused_naming_the_first(l4lb, workdir):
    port = free_port()
    listen = f"udp://127.0.0.1:{port}"
    first = l4lb(simple_config(listen, [f"udp://127.0.0.1:{free_port()}"]))
    assert first.wait_log(r"listener \"front\" listening on")
    other = workdir / "other.toml"
    other.write_text(simple_config(listen, [f"udp://127.0.0.1:{free_port()}"]) +
                     f'\n[admin]\nlisten = ["unix://{workdir}/other-admin.sock"]\n')
    result = run_l4lb(["run", "-c", str(other)])
    expect_refused(result, f"127.0.0.1:{port}", first.pid, "l4lb")


def test_plain_process_with_reuseport_on_the_port_is_refused(workdir, servers):
    """What HAProxy and nginx refuse too: a port some other server listens on."""
    backend = servers(tcp_url(free_port()), name="b")
    port = free_port()
    holder = reuseport_holder(socket.SOCK_STREAM, port)
    try:
        config = workdir / "l4lb.toml"
        # 0.0.0.0 overlaps the holder's 127.0.0.1: the kernel would give loopback to the more
        # specific socket, so this is sharing too.
        config.write_text(simple_config(f"tcp://0.0.0.0:{port}", [backend.url]) +
                          f'\n[admin]\nlisten = ["unix://{workdir}/admin.sock"]\n')
        result = run_l4lb(["run", "-c", str(config)])
        expect_refused(result, f"127.0.0.1:{port}", holder.pid, "python3")
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)


def test_plain_process_with_reuseport_on_the_udp_port_is_refused(workdir):
    port = free_port()
    holder = reuseport_holder(socket.SOCK_DGRAM, port)
    try:
        config = workdir / "l4lb.toml"
        config.write_text(simple_config(f"udp://127.0.0.1:{port}",
                                        [f"udp://127.0.0.1:{free_port()}"]) +
                          f'\n[admin]\nlisten = ["unix://{workdir}/admin.sock"]\n')
        result = run_l4lb(["run", "-c", str(config)])
        expect_refused(result, f"127.0.0.1:{port}", holder.pid, "python3")
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)


def test_live_unix_listener_path_names_its_process(l4lb, servers, workdir):
    backend = servers(tcp_url(free_port()), name="b")
    path = workdir / "front.sock"
    first = l4lb(simple_config(f"unix://{path}", [backend.url]), ready=[f"unix://{path}"])
    other = workdir / "other.toml"
    other.write_text(simple_config(f"unix://{path}", [backend.url]) +
                     f'\n[admin]\nlisten = ["unix://{workdir}/other-admin.sock"]\n')
    result = run_l4lb(["run", "-c", str(other)])
    assert result.returncode == 1, result.stderr
    assert f"{path} by pid {first.pid} (l4lb)" in result.stderr, result.stderr


def test_start_failing_on_its_admin_socket_never_listens(l4lb, servers, workdir):
    """A start that fails has let no client in: its listeners were bound, never listening, so
    nothing it took could be reset when it exits. strace shows every listen(2) it made."""
    backend = servers(tcp_url(free_port()), name="b")
    admin = f"unix://{workdir}/admin.sock"
    listen = tcp_url(free_port())
    l4lb(simple_config(tcp_url(free_port()), [backend.url]) + f'\n[admin]\nlisten = ["{admin}"]\n')
    assert wait_until(lambda: (workdir / "admin.sock").is_socket(), 20)
    config = workdir / "failing.toml"
    config.write_text(simple_config(listen, [backend.url], global_={"workers": 2}) +
                      f'\n[admin]\nlisten = ["{admin}"]\n')
    trace = workdir / "trace.txt"
    # LeakSanitizer cannot run under ptrace: the sanitize build would abort at exit instead of
    # returning 1.
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = ":".join(filter(None, [env.get("ASAN_OPTIONS"), "detect_leaks=0"]))
    result = subprocess.run(["strace", "-f", "-qq", "-e", "trace=bind,listen", "-o", str(trace),
                             L4LB_BIN, "run", "-c", str(config)],
                            stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=30, env=env)
    assert result.returncode == 1, result.stderr
    assert "another process is serving on" in result.stderr, result.stderr
    calls = trace.read_text()
    port = listen.rsplit(":", 1)[1]
    assert f"htons({port})" in calls, calls  # its listener was bound ...
    assert "listen(" not in calls, calls     # ... and nothing ever listened


def test_second_l4lb_on_the_same_admin_tcp_port_is_refused(l4lb, servers, workdir):
    """cpp-httplib's SO_REUSEPORT would have let both answer the admin API by halves."""
    backend = servers(tcp_url(free_port()), name="b")
    admin_port = free_port()
    token = workdir / "token"
    token.write_text("a-token-of-sixteen-or-more\n")
    token.chmod(0o600)
    admin = (f'\n[admin]\nlisten = ["tcp://127.0.0.1:{admin_port}"]\n'
             f'token_file = "{token}"\n')
    first = l4lb(simple_config(tcp_url(free_port()), [backend.url]) + admin,
                 ready=[tcp_url(admin_port)])
    other = workdir / "other.toml"
    other.write_text(simple_config(tcp_url(free_port()), [backend.url]) + admin)
    result = run_l4lb(["run", "-c", str(other)])
    assert result.returncode == 1, result.stderr
    assert f"127.0.0.1:{admin_port} by pid {first.pid} (l4lb)" in result.stderr, result.stderr


def test_reload_adding_a_listener_on_another_process_port_fails_naming_it(l4lb, servers, workdir):
    """A reload binds new listeners as a start does: refused, the running config serving on."""
    backend = servers(tcp_url(free_port()), name="alpha")
    front = tcp_url(free_port())
    proc = l4lb(simple_config(front, [backend.url]), ready=[front])
    port = free_port()
    holder = reuseport_holder(socket.SOCK_STREAM, port)
    try:
        config = config_toml(
            [{"name": "front", "bind": front, "pool": "back"},
             {"name": "taken", "bind": tcp_url(port), "pool": "back"}],
            {"back": {"backends": [{"address": backend.url}]}})
        config += f'\n[admin]\nlisten = ["unix://{workdir}/admin-0.sock"]\n'
        (workdir / "l4lb-0.toml").write_text(config)
        proc.send_signal(signal.SIGHUP)
        line = proc.wait_log(r"reload failed, still serving the config before: .*")
        assert line, proc.stderr()
        assert f"127.0.0.1:{port} by pid {holder.pid} (python3)" in line.group(0)
        assert ask_name(front) == "alpha"
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
