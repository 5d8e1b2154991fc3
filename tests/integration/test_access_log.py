"""Access log: one JSON line per finished connection, to a file or to stderr."""

from __future__ import annotations

import json

from test_failover import blackhole  # noqa: F401  (the fixture)
from harness import (connect, connect_expect_closed, free_port, json_records, recv_line,
                     simple_config, tcp_url, wait_until)

KEYS = {"listener", "client", "backend", "bytes_in", "bytes_out", "duration_ms", "end"}


def one_exchange(listen: str) -> None:
    """6 bytes client -> backend; "b1\\n" + the 6 echoed = 9 bytes backend -> client."""
    with connect(listen) as s:
        assert recv_line(s) == b"b1\n"
        s.sendall(b"hello\n")
        assert recv_line(s) == b"hello\n"


def check_entry(entry: dict, backend_port: int) -> None:
    assert KEYS <= entry.keys(), f"missing keys {KEYS - entry.keys()} in {entry}"
    assert entry["listener"] == "front"
    assert "127.0.0.1" in str(entry["client"])
    assert str(backend_port) in str(entry["backend"])
    assert sorted([entry["bytes_in"], entry["bytes_out"]]) == [6, 9], entry
    assert isinstance(entry["duration_ms"], (int, float)) and entry["duration_ms"] >= 0
    assert isinstance(entry["end"], str) and entry["end"]


def test_access_log_file_has_json_line_per_connection(l4lb, servers, workdir):
    backend = servers(tcp_url(free_port()), name="b1")
    port = int(backend.url.rsplit(":", 1)[1])
    log = workdir / "access.log"
    listen = tcp_url(free_port())
    l4lb(simple_config(listen, [backend.url], global_={"access_log": str(log)}), ready=[listen])
    one_exchange(listen)
    one_exchange(listen)
    assert wait_until(lambda: log.exists() and len(json_records(log.read_text())) >= 2, 10), \
        f"access log {log} has no 2 JSON lines: {log.read_text() if log.exists() else 'missing'}"
    lines = [ln for ln in log.read_text().splitlines() if ln.strip()]
    assert all(json.loads(ln) for ln in lines), "every line of the file is one JSON object"
    for entry in json_records(log.read_text()):
        check_entry(entry, port)


def test_access_log_stderr(l4lb, servers):
    backend = servers(tcp_url(free_port()), name="b1")
    port = int(backend.url.rsplit(":", 1)[1])
    listen = tcp_url(free_port())
    proc = l4lb(simple_config(listen, [backend.url], global_={"access_log": "stderr"}),
                ready=[listen])
    one_exchange(listen)
    entries = []

    def logged():
        entries[:] = [e for e in json_records(proc.stderr()) if "bytes_in" in e]
        return bool(entries)

    assert wait_until(logged, 10), "no access log JSON line on stderr\n" + proc.describe()
    check_entry(entries[0], port)


def test_access_log_records_failed_connection(l4lb, workdir):
    dead = tcp_url(free_port())
    log = workdir / "access.log"
    listen = tcp_url(free_port())
    l4lb(simple_config(listen, [dead], global_={"access_log": str(log)}), ready=[listen])
    assert connect_expect_closed(listen)[1] == b""
    assert wait_until(lambda: log.exists() and json_records(log.read_text()), 10), \
        "a connection that found no backend is not in the access log"
    entry = json_records(log.read_text())[0]
    assert entry["listener"] == "front"
    assert entry["end"], entry


def test_access_log_counts_a_megabyte(l4lb, servers, workdir):
    from harness import count_handler, recv_until_eof
    import socket

    backend = servers(tcp_url(free_port()), count_handler, "counter")
    log = workdir / "access.log"
    listen = tcp_url(free_port())
    l4lb(simple_config(listen, [backend.url], global_={"access_log": str(log)}), ready=[listen])
    with connect(listen) as s:
        s.sendall(b"m" * (1 << 20))
        s.shutdown(socket.SHUT_WR)
        assert recv_until_eof(s) == b"1048576"
    assert wait_until(lambda: log.exists() and json_records(log.read_text()), 10)
    entry = json_records(log.read_text())[0]
    assert entry["bytes_in"] == 1 << 20, entry  # client -> backend
    assert entry["bytes_out"] == len(b"1048576"), entry


def test_sigusr1_reopens_the_file_for_logrotate(l4lb, servers, workdir):
    """The file is renamed away (logrotate's create mode), SIGUSR1: lines before the signal stay
    in the renamed file, lines after it go to a new file at the configured path."""
    import signal

    backend = servers(tcp_url(free_port()), name="b1")
    log = workdir / "access.log"
    rotated = workdir / "access.log.1"
    listen = tcp_url(free_port())
    proc = l4lb(simple_config(listen, [backend.url], global_={"access_log": str(log)}),
                ready=[listen])
    one_exchange(listen)
    assert wait_until(lambda: log.exists() and len(json_records(log.read_text())) == 1, 10)
    log.rename(rotated)
    one_exchange(listen)  # written to the renamed file: l4lb has not been told yet
    assert wait_until(lambda: len(json_records(rotated.read_text())) == 2, 10)
    proc.send_signal(signal.SIGUSR1)
    assert proc.wait_log(r"SIGUSR1: access log .* reopened", 10), proc.describe()
    one_exchange(listen)
    one_exchange(listen)
    assert wait_until(lambda: log.exists() and len(json_records(log.read_text())) == 2, 10), \
        proc.describe()
    assert len(json_records(rotated.read_text())) == 2
    assert proc.alive()


def logged_entries(log, count: int = 1) -> list[dict]:
    assert wait_until(lambda: log.exists() and len(json_records(log.read_text())) >= count, 10), \
        f"access log {log} has no {count} JSON lines: {log.read_text() if log.exists() else ''}"
    return json_records(log.read_text())


def test_access_log_names_each_failed_backend_and_why(l4lb, workdir):
    """Every backend refused: the line says which were tried, in order, and why each failed, and
    ends "connect-failed" (it said "no-backend", the same as an empty pool, with no backend)."""
    dead = [tcp_url(free_port()) for _ in range(2)]
    log = workdir / "access.log"
    listen = tcp_url(free_port())
    l4lb(simple_config(listen, dead, "first", global_={"access_log": str(log)},
                       pool={"retries": 1}), ready=[listen])
    assert connect_expect_closed(listen)[1] == b""
    entry = logged_entries(log)[0]
    assert entry["end"] == "connect-failed", entry
    assert entry["attempts"] == 2, entry
    assert entry["backend"] is None, entry
    assert entry["failed_attempts"] == [{"backend": dead[0], "reason": "refused"},
                                        {"backend": dead[1], "reason": "refused"}], entry


def test_access_log_connect_timeout_is_connect_failed_not_no_backend(l4lb, workdir, blackhole):
    log = workdir / "access.log"
    listen = tcp_url(free_port())
    l4lb(simple_config(listen, [blackhole.url], global_={"access_log": str(log)},
                       pool={"retries": 0, "connect_timeout": "300ms"}), ready=[listen])
    assert connect_expect_closed(listen)[1] == b""
    entry = logged_entries(log)[0]
    assert entry["end"] == "connect-failed", entry
    assert entry["failed_attempts"] == [{"backend": blackhole.url, "reason": "timeout"}], entry


def test_access_log_retried_connection_names_the_backend_that_failed_first(l4lb, servers,
                                                                           workdir):
    dead = tcp_url(free_port())
    b1 = servers(tcp_url(free_port()), name="b1")
    log = workdir / "access.log"
    listen = tcp_url(free_port())
    l4lb(simple_config(listen, [dead, b1.url], "first", global_={"access_log": str(log)},
                       pool={"retries": 1}), ready=[listen])
    one_exchange(listen)
    entry = logged_entries(log)[0]
    assert entry["end"] == "completed", entry
    assert entry["backend"] == b1.url and entry["attempts"] == 2, entry
    assert entry["failed_attempts"] == [{"backend": dead, "reason": "refused"}], entry


def test_access_log_empty_pool_is_no_backend_with_no_attempt(l4lb, servers, workdir):
    """Every backend disabled (nothing tried): "no-backend", apart from "connect-failed"."""
    import subprocess

    b1 = servers(tcp_url(free_port()), name="b1")
    log = workdir / "access.log"
    sock = workdir / "admin.sock"
    listen = tcp_url(free_port())
    proc = l4lb(simple_config(listen, [b1.url], global_={"access_log": str(log)})
                + f'\n[admin]\nlisten = ["unix://{sock}"]\n', ready=[listen])
    r = subprocess.run([proc.args[0], "ctl", "--socket", f"unix://{sock}", "disable", "back",
                        b1.url], capture_output=True, text=True, timeout=10)
    assert r.returncode == 0, r.stderr
    assert connect_expect_closed(listen)[1] == b""
    entry = logged_entries(log)[0]
    assert entry["end"] == "no-backend", entry
    assert entry["attempts"] == 0 and entry["failed_attempts"] == [], entry
