"""SIGTERM/SIGINT: stop accepting at once, let open connections finish up to shutdown_grace,
then exit 0."""

from __future__ import annotations

import signal

import pytest

from harness import (can_connect, connect, free_port, recv_line, simple_config, tcp_url,
                     wait_closed, wait_until)


def test_sigterm_drains_open_connection_then_exits_zero(l4lb, servers):
    backend = servers(tcp_url(free_port()), name="b1")
    listen = tcp_url(free_port())
    proc = l4lb(simple_config(listen, [backend.url], global_={"shutdown_grace": "30s"}),
                ready=[listen])
    s = connect(listen)
    try:
        assert recv_line(s) == b"b1\n"
        proc.send_signal(signal.SIGTERM)
        # New connections are refused: the listening socket is closed.
        assert wait_until(lambda: not can_connect(listen), 10), \
            "still accepting after SIGTERM\n" + proc.describe()
        # The open one still works both ways.
        for i in range(3):
            s.sendall(f"during drain {i}\n".encode())
            assert recv_line(s) == f"during drain {i}\n".encode()
        assert proc.alive(), "exited before its open connection finished\n" + proc.describe()
    finally:
        s.close()
    rc = proc.wait(20)
    assert rc == 0, proc.describe()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_shutdown_grace_expires_with_connection_held(l4lb, servers, sig):
    backend = servers(tcp_url(free_port()), name="b1")
    listen = tcp_url(free_port())
    proc = l4lb(simple_config(listen, [backend.url], global_={"shutdown_grace": "1s"}),
                ready=[listen])
    with connect(listen) as s:
        assert recv_line(s) == b"b1\n"
        proc.send_signal(sig)
        rc = proc.wait(20)  # ~1 s expected; generous bound, not a timing assertion
        assert rc is not None, "still running 20 s after the 1 s grace\n" + proc.describe()
        assert rc == 0, proc.describe()
        how, _ = wait_closed(s)  # the held connection was closed when l4lb went away
        assert how in ("eof", "reset")


def test_sigterm_idle_exits_zero(l4lb, servers, workdir):
    backend = servers(tcp_url(free_port()), name="b1")
    listen = tcp_url(free_port())
    unix = f"unix://{workdir}/l.sock"
    cfg = simple_config(listen, [backend.url])
    cfg += f'\n[[listener]]\nname = "local"\nbind = "{unix}"\npool = "back"\n'
    proc = l4lb(cfg, ready=[listen, unix])
    proc.send_signal(signal.SIGTERM)
    rc = proc.wait(20)
    assert rc == 0, proc.describe()
    assert not can_connect(listen)
    assert not can_connect(unix)
