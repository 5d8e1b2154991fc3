"""A Unix listener's socket file: `mode`, `user`, `group` (issue 15, defect 7). Who may connect
or send to a Unix socket is who may write its file: with bind(2)'s 0777 & ~umask a /dev/log
style listener refused every sender but l4lb's own user, and logger dropped the messages."""

from __future__ import annotations

import os
import re
import socket
import stat
import subprocess

from harness import (free_port, run_l4lb, simple_config, tcp_url, wait_until)
from datagrams import udp_server, server_udp_url


def log_listener_config(path, backend_url: str, extra: dict | None = None) -> str:
    return simple_config(f"unixgram://{path}", [backend_url], listener=extra or {})


def send_as_nobody(path, message: str) -> subprocess.CompletedProcess:
    """What an unprivileged program logging to the socket does: logger(1) as user nobody."""
    return subprocess.run(["runuser", "-u", "nobody", "--", "logger", "--socket-errors=on",
                           "-d", "-u", str(path), message],
                          capture_output=True, text=True, timeout=20)


def open_to_nobody(workdir) -> None:
    workdir.chmod(0o755)  # mkdtemp makes it 0700: nobody could not reach any socket in it


def test_unixgram_listener_with_mode_0666_takes_non_root_senders(l4lb, workdir):
    open_to_nobody(workdir)
    backend = udp_server()
    try:
        path = workdir / "log.sock"
        l4lb(log_listener_config(path, server_udp_url(backend), {"mode": "0666"}),
             ready=[f"unixgram://{path}"])
        assert stat.S_IMODE(path.stat().st_mode) == 0o666
        sent = send_as_nobody(path, "from nobody via mode 0666")
        assert sent.returncode == 0, sent.stderr
        assert wait_until(lambda: any(b"from nobody via mode 0666" in d
                                      for d in backend.received), 10), backend.received
    finally:
        backend.stop()


def test_unixgram_listener_by_default_refuses_non_root_senders(l4lb, workdir):
    """The default stays bind(2)'s (0777 & ~umask): with umask 022, only l4lb's user may send."""
    open_to_nobody(workdir)
    backend = udp_server()
    try:
        path = workdir / "log.sock"
        old_mask = os.umask(0o022)
        try:
            l4lb(log_listener_config(path, server_udp_url(backend)),
                 ready=[f"unixgram://{path}"])
        finally:
            os.umask(old_mask)
        assert stat.S_IMODE(path.stat().st_mode) == 0o755
        sent = send_as_nobody(path, "from nobody refused")
        assert sent.returncode != 0 and "Permission denied" in sent.stderr, sent
        assert not any(b"from nobody refused" in d for d in backend.received)
    finally:
        backend.stop()


def test_unix_stream_listener_mode_and_group(l4lb, servers, workdir):
    backend = servers(tcp_url(free_port()), name="b")
    path = workdir / "front.sock"
    l4lb(simple_config(f"unix://{path}", [backend.url],
                       listener={"mode": "0660", "user": "nobody", "group": "nogroup"}),
         ready=[f"unix://{path}"])
    st = path.stat()
    assert stat.S_IMODE(st.st_mode) == 0o660
    assert (st.st_uid, st.st_gid) == (65534, 65534)
    # root still connects (l4lb serves), and the file is exactly as asked.
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        s.connect(str(path))
        assert s.recv(64).strip() == b"b"


def check_errors(workdir, text: str) -> str:
    path = workdir / "l4lb.toml"
    path.write_text(text)
    result = run_l4lb(["check", "-c", str(path)])
    assert result.returncode == 1, result
    return result.stderr


def test_mode_user_group_are_config_errors_where_there_is_no_file(workdir):
    backend = tcp_url(free_port())
    errors = check_errors(workdir, simple_config(tcp_url(free_port()), [backend],
                                                 listener={"mode": "0660"}))
    assert "listener[0].mode: only applies to unix:///PATH and unixgram:///PATH" in errors, errors
    errors = check_errors(workdir, simple_config("unix://@l4lb-abstract", [backend],
                                                 listener={"group": "nogroup"}))
    assert "listener[0].group: \"unix://@l4lb-abstract\" is an abstract socket" in errors, errors


def test_bad_mode_and_unknown_user_or_group_are_config_errors(workdir):
    backend = tcp_url(free_port())
    errors = check_errors(workdir, simple_config(
        f"unix://{workdir}/a.sock", [backend],
        listener={"mode": "666x", "user": "no-such-user-l4lb", "group": "no-such-group-l4lb"}))
    assert re.search(r"l4lb\.toml:\d+:\d+: listener\[0\]\.mode: invalid mode \"666x\"", errors), \
        errors
    assert "listener[0].user: no such user \"no-such-user-l4lb\"" in errors, errors
    assert "listener[0].group: no such group \"no-such-group-l4lb\"" in errors, errors
