"""Unix-domain sockets: path and abstract (unix://@name), as listener and as backend, mixed
with TCP."""

from __future__ import annotations

import os
import signal
import socket

from harness import (ask_name, connect, free_port, recv_line, run_l4lb, simple_config,
                     tcp_url)


def abstract_name(tag: str) -> str:
    return f"unix://@l4lb-it-{os.getpid()}-{tag}-{os.urandom(4).hex()}"


def echo_roundtrip(url: str, expect_name: str) -> None:
    with connect(url) as s:
        assert recv_line(s).decode().strip() == expect_name
        s.sendall(b"ping over unix\n")
        assert recv_line(s) == b"ping over unix\n"


def test_unix_listener_to_unix_backend(l4lb, servers, workdir):
    backend = servers(f"unix://{workdir}/b.sock", name="u1")
    listen = f"unix://{workdir}/l.sock"
    l4lb(simple_config(listen, [backend.url]), ready=[listen])
    echo_roundtrip(listen, "u1")
    assert [ask_name(listen) for _ in range(5)] == ["u1"] * 5


def test_abstract_listener_to_abstract_backend(l4lb, servers):
    backend = servers(abstract_name("b"), name="a1")
    listen = abstract_name("l")
    l4lb(simple_config(listen, [backend.url]), ready=[listen])
    echo_roundtrip(listen, "a1")


def test_tcp_listener_to_mixed_unix_and_tcp_backends(l4lb, servers, workdir):
    u = servers(f"unix://{workdir}/b.sock", name="unix")
    a = servers(abstract_name("mix"), name="abstract")
    t = servers(tcp_url(free_port()), name="tcp")
    listen = tcp_url(free_port())
    l4lb(simple_config(listen, [u.url, a.url, t.url], global_={"workers": 1}), ready=[listen])
    names = [ask_name(listen) for _ in range(9)]
    assert sorted(set(names)) == ["abstract", "tcp", "unix"], names


def test_unix_listener_socket_file_exists_while_running(l4lb, servers, workdir):
    backend = servers(tcp_url(free_port()), name="t1")
    path = workdir / "front.sock"
    l4lb(simple_config(f"unix://{path}", [backend.url]), ready=[f"unix://{path}"])
    assert path.is_socket()
    echo_roundtrip(f"unix://{path}", "t1")


def test_stale_socket_file_is_replaced(l4lb, servers, workdir):
    """A socket file left by a crashed run (nobody listening) does not block the start."""
    path = workdir / "stale.sock"
    with socket.socket(socket.AF_UNIX) as old:
        old.bind(str(path))  # bound, never listening, then closed: a stale file
    assert path.is_socket()
    backend = servers(tcp_url(free_port()), name="t1")
    l4lb(simple_config(f"unix://{path}", [backend.url]), ready=[f"unix://{path}"])
    echo_roundtrip(f"unix://{path}", "t1")


def test_live_unix_socket_is_not_stolen(workdir):
    """Another process listening on the path keeps it: l4lb fails instead of unlinking."""
    path = workdir / "live.sock"
    with socket.socket(socket.AF_UNIX) as other:
        other.bind(str(path))
        other.listen(4)
        cfg = workdir / "l4lb.toml"
        cfg.write_text(simple_config(f"unix://{path}", [tcp_url(free_port())]))
        r = run_l4lb(["run", "-c", str(cfg)])
        assert r.returncode > 0, f"exit {r.returncode}\n{r.stderr}"
        assert str(path) in r.stderr
        with connect(f"unix://{path}", timeout=2):
            pass  # still reaches `other`


def test_regular_file_at_socket_path_is_not_deleted(workdir):
    path = workdir / "precious.sock"
    path.write_text("not a socket\n")
    cfg = workdir / "l4lb.toml"
    cfg.write_text(simple_config(f"unix://{path}", [tcp_url(free_port())]))
    r = run_l4lb(["run", "-c", str(cfg)])
    assert r.returncode > 0, f"exit {r.returncode}\n{r.stderr}"
    assert path.read_text() == "not a socket\n"


def test_socket_file_removed_at_exit(l4lb, servers, workdir):
    path = workdir / "gone.sock"
    backend = servers(tcp_url(free_port()), name="t1")
    proc = l4lb(simple_config(f"unix://{path}", [backend.url]), ready=[f"unix://{path}"])
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(20) == 0, proc.describe()
    assert not path.exists()
