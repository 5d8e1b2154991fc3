"""The access log's syslog target (README.md, "Access log"): each line one RFC 3164 message to a
unixgram socket (/dev/log) or a udp:// address, received here by a real rsyslogd; a receiver
that does not read never stalls the workers (lines are dropped and counted). Also the fields
HAProxy users read: pool, sni, connect_ms, first_byte_ms."""

from __future__ import annotations

import json
import os
import shutil
import socket
import ssl
import subprocess

import pytest

from harness import (Process, config_toml, connect, free_port, free_udp_port, json_records,
                     recv_line, simple_config, tcp_url, wait_until)
from test_metrics import parse, scrape, value

# /usr/sbin is not on every user's PATH.
RSYSLOGD = shutil.which("rsyslogd") or next(
    (p for p in ["/usr/sbin/rsyslogd"] if os.path.exists(p)), None)
needs_rsyslog = pytest.mark.skipif(RSYSLOGD is None,
                                   reason="rsyslog not installed (scripts/packages.sh)")
# What rsyslog parsed of each message, one line each: the fields the test asserts.
TEMPLATE = "%programname%|%syslogfacility-text%|%syslogseverity-text%|%msg%\\n"


def start_rsyslog(workdir, udp_port: int) -> tuple[Process, str, object]:
    """rsyslogd in the foreground with a unixgram input at WORKDIR/log.sock and a udp input on
    127.0.0.1:udp_port, writing every message to WORKDIR/syslog.out. Returns the process, the
    socket path and the output file, once both inputs have passed a logger(1) probe."""
    sock = workdir / "log.sock"
    out = workdir / "syslog.out"
    conf = workdir / "rsyslog.conf"
    conf.write_text(f"""
global(workDirectory="{workdir}")
module(load="imuxsock" SysSock.Use="off")
input(type="imuxsock" Socket="{sock}")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="{udp_port}")
template(name="fields" type="string" string="{TEMPLATE}")
*.* action(type="omfile" file="{out}" template="fields")
""")
    p = Process([RSYSLOGD, "-n", "-f", str(conf), "-i", str(workdir / "rsyslog.pid")], workdir,
                "rsyslogd")

    def probed() -> bool:
        if p.proc.poll() is not None:
            return True
        if sock.exists():
            subprocess.run(["logger", "-u", str(sock), "-t", "probe", "unix-probe"], timeout=5,
                           capture_output=True)
        subprocess.run(["logger", "-d", "-n", "127.0.0.1", "-P", str(udp_port), "-t", "probe",
                        "udp-probe"], timeout=5, capture_output=True)
        text = out.read_text() if out.exists() else ""
        return "unix-probe" in text and "udp-probe" in text

    if not wait_until(probed, 20, 0.2) or p.proc.poll() is not None:
        p.stop()
        pytest.fail("rsyslogd did not start:\n" + p.log())
    return p, str(sock), out


def received(out, tag: str) -> list[tuple[str, str, dict]]:
    """(facility, severity, JSON) of every message rsyslog filed under program `tag`."""
    entries = []
    for line in (out.read_text() if out.exists() else "").splitlines():
        program, facility, severity, msg = line.split("|", 3)
        if program == tag:
            entries.append((facility, severity, json.loads(msg)))
    return entries


@needs_rsyslog
@pytest.mark.parametrize("transport", ["unixgram", "udp"])
def test_access_log_lines_reach_rsyslog(l4lb, servers, workdir, processes, transport):
    udp_port = free_udp_port()
    rsyslog, sock, out = start_rsyslog(workdir, udp_port)
    processes.append(rsyslog)
    target = (f"syslog:unixgram://{sock}" if transport == "unixgram"
              else f"syslog:udp://127.0.0.1:{udp_port}")
    backend = servers(tcp_url(free_port()), name="b1")
    dead = tcp_url(free_port())
    listen = tcp_url(free_port())
    l4lb(simple_config(listen, [dead, backend.url], "first", pool={"retries": 1},
                       global_={"access_log": target, "access_log_facility": "local3",
                                "access_log_tag": "l4lbtest"}), ready=[listen])
    with connect(listen) as s:
        assert recv_line(s) == b"b1\n"  # the backend speaks first
        s.sendall(b"hello\n")
        assert recv_line(s) == b"hello\n"
    assert wait_until(lambda: received(out, "l4lbtest"), 10), out.read_text()
    facility, severity, entry = received(out, "l4lbtest")[0]
    assert (facility, severity) == ("local3", "info")
    assert entry["listener"] == "front" and entry["pool"] == "back", entry
    assert entry["backend"] == backend.url and entry["end"] == "completed", entry
    assert entry["failed_attempts"] == [{"backend": dead, "reason": "refused"}], entry
    assert isinstance(entry["connect_ms"], int) and entry["connect_ms"] >= 0, entry
    assert isinstance(entry["first_byte_ms"], int) and entry["first_byte_ms"] >= 0, entry
    assert entry["sni"] is None, entry


def test_a_syslog_receiver_that_never_reads_stalls_no_one(l4lb, servers, workdir):
    """A unixgram socket nobody reads fills up: connections go on being served at full speed,
    and the lines that did not fit are counted in l4lb_access_log_dropped_total."""
    stuck = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    stuck_path = str(workdir / "stuck.sock")
    stuck.bind(stuck_path)
    admin = str(workdir / "admin.sock")
    backend = servers(tcp_url(free_port()), name="b1")
    listen = tcp_url(free_port())
    try:
        l4lb(simple_config(listen, [backend.url],
                           global_={"access_log": f"syslog:unixgram://{stuck_path}"})
             + f'\n[admin]\nlisten = ["unix://{admin}"]\n', ready=[listen])
        served = 0
        for _ in range(600):  # more lines than a unix datagram queue holds by default
            with connect(listen) as s:
                if recv_line(s) == b"b1\n":
                    served += 1
        assert served == 600

        def dropped() -> float:
            return value(parse(scrape(admin)[1]), "l4lb_access_log_dropped_total")

        assert wait_until(lambda: dropped() > 0, 10), scrape(admin)[1]
        assert dropped() < 600  # what fitted was delivered
        assert stuck.recv(65536, socket.MSG_DONTWAIT).find(b'"listener":"front"') > 0
    finally:
        stuck.close()


def client_hello(server_name: str) -> bytes:
    """The bytes of a real TLS ClientHello for `server_name`, made by Python's ssl module."""
    context = ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname=server_name)
    with pytest.raises(ssl.SSLWantReadError):
        tls.do_handshake()
    return outgoing.read()


def test_access_log_names_the_routed_pool_and_server_name(l4lb, servers, workdir):
    api = servers(tcp_url(free_port()), name="api")
    other = servers(tcp_url(free_port()), name="other")
    log = workdir / "access.log"
    listen = tcp_url(free_port())
    config = config_toml(
        [{"name": "tls", "bind": listen, "pool": "other",
          "routes": [{"sni": "api.example.com", "pool": "api"}]}],
        {"api": {"backends": [{"address": api.url}]},
         "other": {"backends": [{"address": other.url}]}},
        {"access_log": str(log)})
    l4lb(config, ready=[listen])
    with connect(listen) as s:
        s.sendall(client_hello("api.example.com"))
        assert recv_line(s) == b"api\n"  # routed by the hello's server name
    assert wait_until(lambda: log.exists() and json_records(log.read_text()), 10)
    entry = json_records(log.read_text())[0]
    assert entry["pool"] == "api" and entry["sni"] == "api.example.com", entry
    assert entry["backend"] == api.url, entry
