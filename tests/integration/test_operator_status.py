"""What `l4lb ctl` and the admin API tell an operator, and whether it is the truth (issue 15):
the last check apart from the last state change, the exit report's counts, and ctl's own
errors when it cannot reach l4lb."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import stat
import subprocess
from pathlib import Path

import pytest

from harness import (L4LB_BIN, api, ask_name, connect, free_port, pool_backends, recv_line,
                     simple_config, tcp_url, wait_until)
from health import Impostor, log_offset, wait_state

IO_TIMEOUT = 10
FAST_CHECK = {"check": "send-expect", "send": "PING\n", "interval": "200ms", "timeout": "300ms"}


def ctl(*args: str, user: str | None = None) -> subprocess.CompletedProcess:
    argv = [L4LB_BIN, "ctl", *args]
    if user:
        argv = ["runuser", "-u", user, "--"] + argv
    return subprocess.run(argv, capture_output=True, text=True, timeout=IO_TIMEOUT + 5)


def start_checked(l4lb, workdir: Path, backend_url: str, check: dict):
    """l4lb with one pool "back" of one backend "b" checked by `check`; (proc, sock, config)."""
    listen = tcp_url(free_port())
    sock = str(workdir / "admin.sock")
    text = simple_config(listen, [{"address": backend_url, "name": "b"}], pool={"health": check})
    text += f'\n[admin]\nlisten = ["unix://{sock}"]\n'
    proc = l4lb(text, ready=[listen])
    assert proc.wait_log(r"admin API listening on"), proc.describe()
    config = Path(proc.args[proc.args.index("-c") + 1])
    return proc, sock, config


def backend_b(sock: str) -> dict:
    return api(sock, "/pools/back")["backends"][0]


# Defect 3: a backend down for one reason whose checks then fail for another showed the first
# reason as its "last check" for ever (a stopped server showed a role mismatch 30 s later).
def test_last_check_is_told_apart_from_the_last_state_change(l4lb, workdir):
    port = free_port()
    wrong = Impostor(tcp_url(port), reply=b"WRONG\n")
    try:
        proc, sock, _ = start_checked(l4lb, workdir, wrong.url,
                                      dict(FAST_CHECK, expect="OK", rise=1, fall=1))
        assert wait_state(proc, "b", "down", 10) is not None, proc.describe()
        mismatch = backend_b(sock)["last_change"]
        assert mismatch["to"] == "down" and mismatch["at"], mismatch
    finally:
        wrong.stop()
    # Nothing listens now: every check is refused, the state stays down, the change is as it was.
    assert wait_until(lambda: "refused" in (backend_b(sock)["last_check"] or {}).get("reason", ""),
                      10), backend_b(sock)
    shown = backend_b(sock)
    assert shown["last_check"]["result"] == "failed", shown
    assert shown["last_change"]["reason"] == mismatch["reason"], shown
    assert "refused" not in shown["last_change"]["reason"], shown
    assert shown["state"] == "down"

    table = ctl("--socket", f"unix://{sock}", "pool", "back")
    assert table.returncode == 0, table.stderr
    header, row = table.stdout.splitlines()[1:3]
    assert "LAST CHECK" in header and "LAST CHANGE" in header, table.stdout
    assert "failed" in row and "refused" in row and "->down" in row, table.stdout
    pools = ctl("--socket", f"unix://{sock}", "pools")
    assert pools.returncode == 0, pools.stderr
    assert "b unknown->down" in pools.stdout and "FAILING CHECKS" in pools.stdout, pools.stdout


# Defect 3: after a reload that fixed the check, the old check's failure was still shown.
def test_reload_that_changes_the_check_shows_no_stale_result(l4lb, workdir):
    server = Impostor(tcp_url(free_port()), reply=b"OK\n")
    try:
        proc, sock, config = start_checked(l4lb, workdir, server.url,
                                           dict(FAST_CHECK, expect="NOPE", rise=3, fall=1))
        assert wait_state(proc, "b", "down", 10) is not None, proc.describe()
        stale = backend_b(sock)["last_check"]
        assert stale["result"] == "failed", stale

        config.write_text(config.read_text().replace('"NOPE"', '"OK"'))
        reloaded = ctl("--socket", f"unix://{sock}", "reload")
        assert reloaded.returncode == 0, reloaded.stderr
        # From the moment the reload answers: none yet, or the new check's.
        shown = [backend_b(sock) for _ in range(3)]
        for b in shown:
            assert b["last_check"] is None or b["last_check"]["result"] == "ok", shown
        assert wait_until(lambda: (backend_b(sock)["last_check"] or {}).get("result") == "ok",
                          10), backend_b(sock)
        # The change that took it down is history, with its own reason and time.
        assert backend_b(sock)["last_change"]["reason"] == stale["reason"] or \
            backend_b(sock)["last_change"]["to"] == "up"
    finally:
        server.stop()


# Defect 11: the exit report's "health: N backend state changes" counted only the last config
# generation's checker (0 after a reload or an API change that came after the changes).
def test_exit_report_counts_state_changes_over_every_config_generation(l4lb, workdir, servers):
    port = free_port()
    first = servers(tcp_url(port), name="b")
    proc, sock, _ = start_checked(l4lb, workdir, first.url,
                                  {"check": "tcp", "interval": "200ms", "timeout": "300ms",
                                   "rise": 1, "fall": 1})
    assert wait_state(proc, "b", "up", 10) is not None, proc.describe()
    offset = log_offset(proc)
    proc.send_signal(signal.SIGHUP)
    assert proc.wait_log(r"reloaded ", 10) is not None, proc.describe()
    first.stop()
    assert wait_state(proc, "b", "down", 10, after=offset) is not None, proc.describe()
    # An API change is a config generation too.
    other = servers(tcp_url(free_port()), name="c")
    added = ctl("--socket", f"unix://{sock}", "add", "back", other.url, "--name", "c")
    assert added.returncode == 0, added.stderr
    assert wait_state(proc, "c", "up", 10) is not None, proc.describe()
    proc.stop()
    log = proc.stderr()
    logged = len(re.findall(r"backend \S+: (?:unknown|up|down) -> (?:up|down) \(", log))
    assert logged >= 3, log
    reported = re.search(r"health: (\d+) backend state changes", log)
    assert reported is not None, log
    assert int(reported.group(1)) == logged, log


# Defect 8: `ctl status` had no pid (only --json had it), though the README says it shows the
# new process's pid after a binary upgrade.
def test_ctl_status_shows_pid_and_config_generation(l4lb, workdir, servers):
    b = servers(tcp_url(free_port()), name="b")
    proc, sock, _ = start_checked(l4lb, workdir, b.url,
                                  {"check": "tcp", "interval": "1s", "timeout": "1s"})
    status = ctl("--socket", f"unix://{sock}", "status")
    assert status.returncode == 0, status.stderr
    assert re.search(rf"^pid\s+{proc.pid}$", status.stdout, re.MULTILINE), status.stdout
    assert re.search(r"^config\s+\S+ \(generation 1\)$", status.stdout, re.MULTILINE), \
        status.stdout
    reloaded = ctl("--socket", f"unix://{sock}", "reload")
    assert reloaded.returncode == 0, reloaded.stderr
    status = ctl("--socket", f"unix://{sock}", "status")
    assert re.search(r"^config\s+\S+ \(generation 2\)$", status.stdout, re.MULTILINE), \
        status.stdout
    assert re.search(r"^reloads\s+1 ok, 0 failed; last ok \d+s ago: reloaded ", status.stdout,
                     re.MULTILINE), status.stdout
    as_json = json.loads(ctl("--socket", f"unix://{sock}", "--json", "status").stdout)
    assert as_json["pid"] == proc.pid and as_json["config_generation"] == 2, as_json


# Defect 4: every failure to reach the admin API said only "Connection". Each case now says
# its errno and what to do; a bare path is accepted for --socket (it needed unix://).
HINT = "is l4lb running? pass --socket PATH or -c FILE"


def unreachable(*args: str, user: str | None = None) -> str:
    out = ctl(*args, "status", user=user)
    assert out.returncode == 2, (out.stdout, out.stderr)
    assert "Connection\n" not in out.stderr, out.stderr
    return out.stderr


def test_ctl_says_why_a_missing_socket_cannot_be_reached(workdir):
    err = unreachable("--socket", str(workdir / "none.sock"))
    assert "No such file or directory" in err and HINT in err, err


def test_ctl_says_a_regular_file_is_not_a_socket(workdir):
    (workdir / "file").write_text("x")
    err = unreachable("--socket", str(workdir / "file"))
    assert "a regular file, not a socket" in err and HINT in err, err


def test_ctl_says_nothing_listens_on_a_socket_left_behind(workdir):
    path = workdir / "dead.sock"
    left = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    left.bind(str(path))  # bound, never listening, closed: the file stays, as after a crash
    left.close()
    for given in (f"unix://{path}", str(path)):
        err = unreachable("--socket", given)
        assert "connect: Connection refused" in err and HINT in err, err


@pytest.mark.skipif(os.geteuid() != 0 or not shutil.which("runuser"), reason="needs root")
def test_ctl_says_access_to_the_admin_socket_is_denied(l4lb, workdir, servers):
    b = servers(tcp_url(free_port()), name="b")
    os.chmod(workdir, 0o755)  # nobody may reach the socket's directory, not the socket
    proc, sock, _ = start_checked(l4lb, workdir, b.url, {"check": "tcp"})
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600 and os.stat(sock).st_uid == 0
    err = unreachable("--socket", sock, user="nobody")
    assert "connect: Permission denied" in err and "mode 0600, owned by uid 0" in err, err
    assert ctl("--socket", sock, "status").returncode == 0


# Defect 5: `ctl -c FILE` refused to do anything when FILE had any error, though it needs only
# [admin] listen: after a bad edit, during an incident, `ctl -c l4lb.toml disable ...` did
# nothing.
def test_ctl_finds_the_admin_api_in_a_config_broken_elsewhere(l4lb, workdir, servers):
    b = servers(tcp_url(free_port()), name="b")
    proc, sock, config = start_checked(l4lb, workdir, b.url, {"check": "tcp"})
    good = config.read_text()
    for broken, error in (
            (good.replace("[pool.back]", "[pool.back"), "TOML syntax error"),
            (good.replace('balance = "round-robin"', 'balance = "round-robbin"'), "balance")):
        config.write_text(broken)
        out = ctl("-c", str(config), "disable", "back", "b")
        assert out.returncode == 0, out.stderr
        assert "disabled" in out.stdout, out.stdout
        assert "warning" in out.stderr and "1 error" in out.stderr and error in out.stderr, \
            out.stderr
        assert ctl("-c", str(config), "enable", "back", "b").returncode == 0
    # Broken inside [admin]: ctl says it cannot, and where.
    config.write_text(good.replace("listen = [", "listen = [[", 1))
    out = ctl("-c", str(config), "status")
    assert out.returncode == 2, out.stdout
    assert "cannot find the admin API" in out.stderr and "in the [admin] table" in out.stderr, \
        out.stderr


# Feature: `ctl sessions` lists the open connections (client, backend, listener, age, bytes),
# `ctl end-session ID` ends one, as HAProxy's "show sess" and "shutdown session".
def test_ctl_sessions_lists_and_ends_one_connection(l4lb, workdir, servers):
    one = servers(tcp_url(free_port()), name="one")
    two = servers(tcp_url(free_port()), name="two")
    listen = tcp_url(free_port())
    sock = str(workdir / "admin.sock")
    text = simple_config(listen, [{"address": one.url, "name": "one"},
                                  {"address": two.url, "name": "two"}], global_={"workers": 2})
    text += f'\n[admin]\nlisten = ["unix://{sock}"]\n'
    proc = l4lb(text, ready=[listen])
    assert proc.wait_log(r"admin API listening on"), proc.describe()
    ended_conn, kept = connect(listen), connect(listen)
    try:
        backend = recv_line(ended_conn).decode().strip()
        recv_line(kept)
        ended_conn.sendall(b"hello\n")
        assert recv_line(ended_conn) == b"hello\n"
        out = ctl("--socket", sock, "--json", "sessions")
        assert out.returncode == 0, out.stderr
        listed = json.loads(out.stdout)
        assert listed["complete"] and len(listed["sessions"]) == 2, listed
        client = f"127.0.0.1:{ended_conn.getsockname()[1]}"
        mine = next(s for s in listed["sessions"] if s["client"] == client)
        assert mine["backend"] == backend and mine["listener"] == "front", mine
        assert mine["state"] == "proxying" and mine["bytes_in"] == 6, mine
        assert mine["bytes_out"] == len(backend) + 1 + 6, mine
        table = ctl("--socket", sock, "sessions")
        assert table.returncode == 0 and mine["id"] in table.stdout and client in table.stdout, \
            table.stdout

        out = ctl("--socket", sock, "end-session", mine["id"])
        assert out.returncode == 0 and "ended" in out.stdout, out.stderr
        try:
            assert ended_conn.recv(100) == b""
        except ConnectionResetError:
            pass  # ended with a reset, as a shutdown whose grace ran out
        kept.sendall(b"still here\n")
        assert recv_line(kept) == b"still here\n"
        again = ctl("--socket", sock, "end-session", mine["id"])
        assert again.returncode == 1 and "no open session" in again.stderr, again.stderr
        assert proc.wait_log(rf"session {mine['id']}: ended \(admin API\)"), proc.describe()
    finally:
        ended_conn.close()
        kept.close()


# Feature: [global] state_file keeps the admin API's drain, disable and weights over a restart
# (HAProxy's server-state-file); written atomically on each change.
def test_state_file_keeps_a_drained_backend_drained_over_a_restart(l4lb, workdir, servers):
    one = servers(tcp_url(free_port()), name="one")
    two = servers(tcp_url(free_port()), name="two")
    listen = tcp_url(free_port())
    sock = str(workdir / "admin.sock")
    state = workdir / "state.json"
    text = simple_config(listen, [{"address": one.url, "name": "one"},
                                  {"address": two.url, "name": "two"}],
                         global_={"workers": 1, "state_file": str(state)})
    text += f'\n[admin]\nlisten = ["unix://{sock}"]\n'
    first = l4lb(text, ready=[listen])
    assert first.wait_log(r"admin API listening on"), first.describe()
    assert ctl("--socket", sock, "drain", "back", "one").returncode == 0
    assert ctl("--socket", sock, "weight", "back", "two", "7").returncode == 0
    saved = json.loads(state.read_text())
    by_name = {b["backend"]: b for b in saved["backends"]}
    assert by_name["one"]["state"] == "draining" and by_name["two"]["weight"] == 7, saved
    assert not (workdir / "state.json.tmp").exists()
    first.stop()

    second = l4lb(text, ready=[listen])
    assert second.wait_log(r"state_file .*: 2 of 2 saved backends restored"), second.describe()
    shown = pool_backends(sock, key="name")
    assert shown["one"]["state"] == "draining" and shown["two"]["weight"] == 7, shown
    assert {ask_name(listen) for _ in range(10)} == {"two"}


# Without an announce interface a binary upgrade sends no listener states (they travel with the
# interface): the new process reads them from the state file the old one wrote.
def test_a_listener_drain_in_the_state_file_survives_an_upgrade_without_announce(l4lb, workdir,
                                                                                 servers):
    one = servers(tcp_url(free_port()), name="one")
    listen = tcp_url(free_port())
    sock = str(workdir / "admin.sock")
    state = workdir / "state.json"
    text = simple_config(listen, [{"address": one.url, "name": "one"}],
                         global_={"workers": 1, "state_file": str(state)})
    text += f'\n[admin]\nlisten = ["unix://{sock}"]\n'
    old = l4lb(text, ready=[listen])
    assert old.wait_log(r"admin API listening on"), old.describe()
    assert ctl("--socket", sock, "listener-drain", "front").returncode == 0

    config = old.args[old.args.index("-c") + 1]
    new = l4lb(args=["-c", config, "--upgrade-from", f"unix://{sock}"])
    assert new.wait_log(r"upgrade from pid \d+ done", 30) is not None, \
        new.describe() + "\n" + old.describe()
    assert old.wait(30) == 0, old.describe()
    assert new.wait_log(r'listener "front": draining \(restored from the state file\)') \
        is not None, new.describe()
    listeners = {entry["name"]: entry for entry in api(sock, "/listeners")["listeners"]}
    assert listeners["front"]["admin_state"] == "draining", listeners
    # And the new process's own saves keep it.
    assert ctl("--socket", sock, "drain", "back", "one").returncode == 0
    assert json.loads(state.read_text())["listeners"] == [
        {"listener": "front", "state": "draining"}]
