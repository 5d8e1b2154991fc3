"""The udp check of datagram pools (issue 15, defect 2).

With `expect`: an echo server is up, a server whose reply differs and one that never
answers are down, and every client datagram is answered by the one that is up.

Without `expect` (backends that never answer: syslog, statsd): the check sends a datagram and
listens for a refusal. A port nothing listens on is down at once (ICMP port unreachable); a real
rsyslogd and a silent sink are up; a stopped rsyslogd goes down and comes back up when started
again; and while one backend is down, no `logger -d` message through l4lb is lost."""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
from pathlib import Path

import pytest

from harness import (DatagramServer, Process, config_toml, free_udp_port, udp_url, wait_until)
from health import log_offset, wait_state
from health_servers import FAST


def sink() -> DatagramServer:
    """A UDP server on loopback that keeps what it receives and never answers."""
    return DatagramServer(socket.AF_INET, ("127.0.0.1", 0), reply=None)


def start_rsyslog(workdir: Path, port: int, name: str = "rsyslog") -> tuple[Process, Path]:
    """A real rsyslogd in the foreground, receiving syslog over UDP on `port` into a file."""
    spool = workdir / f"{name}-spool"
    spool.mkdir(exist_ok=True)
    out = workdir / f"{name}-messages.log"
    conf = workdir / f"{name}.conf"
    conf.write_text(f'global(workDirectory="{spool}")\n'
                    'module(load="imudp")\n'
                    f'input(type="imudp" address="127.0.0.1" port="{port}")\n'
                    f'*.* action(type="omfile" file="{out}")\n')
    p = Process(["rsyslogd", "-n", "-f", str(conf), "-i", str(workdir / f"{name}.pid")],
                workdir, name)
    marker = f"rsyslog-ready-{port}"

    def receiving() -> bool:
        send_syslog(port, marker)
        return out.exists() and marker in out.read_text(errors="replace")

    if not wait_until(receiving, 15, 0.2):
        p.stop()
        raise AssertionError("rsyslogd did not start:\n" + p.log())
    return p, out


def send_syslog(port: int, message: str) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.sendto(f"<13>l4lb-test: {message}".encode(), ("127.0.0.1", port))


def udp_pool(listen: int, backends: list[tuple[str, str]], health: dict) -> str:
    pool = {"balance": "round-robin", "retries": 1, "health": health,
            "backends": [{"address": url, "name": name} for name, url in backends]}
    return config_toml([{"name": "front", "bind": udp_url(listen), "pool": "p"}], {"p": pool},
                       {"workers": 1})


def test_udp_check_with_expect_is_up_only_on_a_matching_reply(l4lb, workdir, processes):
    # An in-process echo, not `socat UDP4-RECVFROM,fork`: socat's forked children share the
    # listening socket, so a client datagram could be read by the child serving a health check
    # and echoed to the checker instead (seen once in CI as a client timeout).
    echo = DatagramServer(socket.AF_INET, ("127.0.0.1", 0))
    echo_port = echo.address[1]
    wrong = DatagramServer(socket.AF_INET, ("127.0.0.1", 0), prefix=b"ERR ")  # "ERR ping..."
    silent = sink()
    listen = free_udp_port()
    try:
        health = {"check": "udp", "send": "ping\\n", "expect": "ping", "rise": 1, "fall": 1,
                  **FAST}
        proc = l4lb(udp_pool(listen, [("echo", udp_url(echo_port)),
                                      ("wrong", udp_url(wrong.address[1])),
                                      ("silent", udp_url(silent.address[1]))], health),
                    ready=[udp_url(listen)])
        assert wait_state(proc, "echo", "up", 10) is not None, proc.describe()
        assert wait_state(proc, "wrong", "down", 10) is not None, proc.describe()
        assert wait_state(proc, "silent", "down", 10) is not None, proc.describe()
        log = proc.stderr()
        assert 'wrong: unknown -> down (udp check: unexpected reply "ERR ping\\n")' in log, log
        assert "silent: unknown -> down (udp check: no reply within 300 ms)" in log, log
        assert "echo: unknown -> up (udp check: reply \"ping\")" in log, log
        # The checks sent "ping\n" to each.
        assert wait_until(lambda: b"ping\n" in silent.received, 5), silent.received
        # Clients reach only the backend that is up.
        for i in range(10):
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as c:
                c.settimeout(2)
                c.sendto(f"hello-{i}".encode(), ("127.0.0.1", listen))
                assert c.recvfrom(64)[0] == f"hello-{i}".encode()
        assert not any(d.startswith(b"hello-") for d in wrong.received + silent.received)
    finally:
        echo.stop()
        wrong.stop()
        silent.stop()


@pytest.mark.skipif(not shutil.which("rsyslogd"), reason="no rsyslogd")
@pytest.mark.skipif(not shutil.which("logger"), reason="no logger (bsdutils)")
def test_udp_refusal_probe_downs_a_closed_port_and_keeps_silent_servers_up(l4lb, workdir,
                                                                            processes):
    syslog_port = free_udp_port()
    rsyslog, messages = start_rsyslog(workdir, syslog_port)
    processes.append(rsyslog)
    silent = sink()
    closed = free_udp_port()  # nothing listens: the kernel answers ICMP port unreachable
    listen = free_udp_port()
    try:
        health = {"check": "udp", "rise": 1, "fall": 1, **FAST}
        proc = l4lb(udp_pool(listen, [("closed", udp_url(closed)),
                                      ("rsyslog", udp_url(syslog_port)),
                                      ("statsd", udp_url(silent.address[1]))], health),
                    ready=[udp_url(listen)])
        assert wait_state(proc, "closed", "down", 10) is not None, proc.describe()
        assert wait_state(proc, "rsyslog", "up", 10) is not None, proc.describe()
        assert wait_state(proc, "statsd", "up", 10) is not None, proc.describe()
        log = proc.stderr()
        assert "closed: unknown -> down (udp check: connection refused)" in log, log
        assert "rsyslog: unknown -> up (udp check: no refusal within 300 ms)" in log, log
        # The default probe is an empty datagram, which the servers take without a word.
        assert wait_until(lambda: b"" in silent.received, 5), silent.received

        # Each message from a new source port, as `logger -d` sends: none goes to the closed
        # port, so none is lost.
        tags = [f"via-l4lb-{i}" for i in range(12)]
        for tag in tags:
            subprocess.run(["logger", "-d", "-n", "127.0.0.1", "-P", str(listen), "--rfc3164",
                            "-t", "l4lb-test", tag], check=True, timeout=10)

        def delivered() -> list[str]:
            text = messages.read_text(errors="replace")
            return [t for t in tags if re.search(rf"\b{t}\b", text)
                    or any(t.encode() in d for d in list(silent.received))]

        assert wait_until(lambda: len(delivered()) == len(tags), 10), \
            sorted(set(tags) - set(delivered()))
        assert any(t in messages.read_text(errors="replace") for t in tags), "rsyslog got none"

        # rsyslogd stopped: its port refuses, down; started again: up.
        offset = log_offset(proc)
        rsyslog.stop()
        assert wait_state(proc, "rsyslog", "down", 10, after=offset) is not None, proc.describe()
        offset = log_offset(proc)
        restarted, _ = start_rsyslog(workdir, syslog_port, name="rsyslog2")
        processes.append(restarted)
        assert wait_state(proc, "rsyslog", "up", 10, after=offset) is not None, proc.describe()
    finally:
        silent.stop()
