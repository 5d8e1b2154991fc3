"""GET /metrics (README.md, "Admin API"): the Prometheus text l4lb serves on every admin
listener, checked with promtool and against the traffic the test itself pushed through a real
redis-server and an in-process UDP echo."""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import time

import pytest

from harness import (L4LB_BIN, config_toml, connect, count_handler, echo_both_ways, free_port,
                     free_udp_port, recv_exact, recv_until_eof, server_udp_url, start_redis,
                     tcp_url, udp_client, udp_server, udp_url, wait_until)
from test_limits import refused

IO_TIMEOUT = 10
MB = 1 << 20
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"

# One request and its answer, byte for byte (RESP).
PING = b"*1\r\n$4\r\nPING\r\n"
PONG = b"+PONG\r\n"
SET = b"*3\r\n$3\r\nSET\r\n$7\r\nmetrics\r\n$5\r\nhello\r\n"
OK = b"+OK\r\n"
GET = b"*2\r\n$3\r\nGET\r\n$7\r\nmetrics\r\n"
HELLO = b"$5\r\nhello\r\n"

# Names with a double quote and a backslash: label values must come out escaped.
DOWN_NAME = 'gone "old" \\ one'
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def unescape(value: str) -> str:
    return re.sub(r'\\(.)', lambda m: "\n" if m.group(1) == "n" else m.group(1), value)


def parse(text: str) -> dict[tuple, float]:
    """{(name, frozenset of (label, value)): value} of every sample; a series seen twice fails."""
    out: dict[tuple, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        series, _, value = line.rpartition(" ")
        name, _, labels = series.partition("{")
        key = (name, frozenset((k, unescape(v)) for k, v in LABEL.findall(labels)))
        assert key not in out, f"duplicate series: {line}"
        out[key] = float(value)
    return out


def value(samples: dict[tuple, float], name: str, **labels: str) -> float:
    key = (name, frozenset(labels.items()))
    assert key in samples, f"no sample {name}{labels}"
    return samples[key]


def scrape(sock: str | None = None, tcp: str | None = None) -> tuple[str, str]:
    """(Content-Type, body) of GET /metrics over the unix socket or to tcp host:port."""
    argv = ["curl", "-sS", "--fail", "--max-time", str(IO_TIMEOUT), "-D", "/dev/stderr"]
    if tcp:
        argv.append(f"http://{tcp}/metrics")
    else:
        argv += ["--unix-socket", sock, "http://l4lb/metrics"]
    out = subprocess.run(argv, capture_output=True, text=True, timeout=IO_TIMEOUT + 5)
    assert out.returncode == 0, out.stderr
    content_type = ""
    for header in out.stderr.splitlines():
        if header.lower().startswith("content-type:"):
            content_type = header.split(":", 1)[1].strip()
    return content_type, out.stdout


def promtool_check(text: str) -> None:
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool not found: install the prometheus package "
                    "(scripts/install-packages.sh test)", pytrace=False)
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, f"promtool check metrics failed:\n{r.stdout}{r.stderr}\n{text}"


def talk(url: str, exchanges: list[tuple[bytes, bytes]]) -> tuple[int, int]:
    """Sends each request, reads its exact answer, closes; returns (bytes sent, received)."""
    sent = received = 0
    with connect(url) as s:
        for request, answer in exchanges:
            s.sendall(request)
            assert recv_exact(s, len(answer)) == answer
            sent += len(request)
            received += len(answer)
    return sent, received


def test_metrics_match_the_traffic_and_pass_promtool(l4lb, workdir, processes):
    redis_port = free_port()
    processes.append(start_redis(workdir, redis_port))
    echo = udp_server()
    try:
        run_metrics_test(l4lb, workdir, redis_port, echo)
    finally:
        echo.stop()


def run_metrics_test(l4lb, workdir, redis_port, echo):
    front, guarded = tcp_url(free_port()), tcp_url(free_port())
    udp_port = free_udp_port()
    dgram = udp_url(udp_port)
    admin_port = free_port()
    sock = str(workdir / "admin.sock")
    (workdir / "token").write_text("metrics-test-token\n")
    config = config_toml(
        [{"name": "front", "bind": front, "pool": "cache"},
         # Only 127.0.0.2 may connect: the test's connections come from 127.0.0.1.
         {"name": "guarded", "bind": guarded, "pool": "cache", "allow": ["127.0.0.2/32"]},
         {"name": "dgram", "bind": dgram, "pool": "echo"}],
        {"cache": {"balance": "round-robin", "connect_timeout": "2s", "retries": 2,
                   "health": {"check": "tcp", "interval": "200ms", "timeout": "300ms",
                              "rise": 1, "fall": 1},
                   "backends": [{"address": tcp_url(redis_port), "name": "r1"},
                                # Nothing listens there: its checks take it down.
                                {"address": tcp_url(free_port()), "name": DOWN_NAME}]},
         "echo": {"backends": [{"address": server_udp_url(echo), "name": "echo1"}]}},
        {"workers": 2})
    config += (f'\n[admin]\nlisten = ["unix://{sock}", "tcp://127.0.0.1:{admin_port}"]\n'
               f'token_file = "{workdir}/token"\n')
    proc = l4lb(config, ready=[front, guarded])
    assert proc.wait_log(r"admin API listening on tcp://"), proc.describe()

    def health_settled() -> bool:
        samples = parse(scrape(sock)[1])
        return (value(samples, "l4lb_backend_health_state", pool="cache", backend="r1",
                      state="up") == 1 and
                value(samples, "l4lb_backend_health_state", pool="cache", backend=DOWN_NAME,
                      state="down") == 1)

    assert wait_until(health_settled, 15), scrape(sock)[1]

    # Known stream traffic: every connection goes to r1 (the other backend is down).
    connections = [[(PING, PONG)], [(SET, OK), (GET, HELLO)], [(PING, PONG), (GET, HELLO)],
                   [(GET, HELLO)]]
    sent = received = 0
    for exchanges in connections:
        s, r = talk(front, exchanges)
        sent += s
        received += r
    assert refused(guarded, "127.0.0.1")

    # Known datagram traffic: each client socket is one flow.
    payloads = [[b"one", b"two!"], [b"three", b"4", b"five5"]]
    for datagrams in payloads:
        client = udp_client()
        with client:
            for payload in datagrams:
                client.sendto(payload, ("127.0.0.1", udp_port))
                assert client.recvfrom(2048)[0] == payload
    n_datagrams = sum(len(d) for d in payloads)
    n_bytes = sum(len(p) for d in payloads for p in d)

    def sessions_ended() -> bool:
        samples = parse(scrape(sock)[1])
        return value(samples, "l4lb_listener_connections_ended_total", listener="front",
                     reason="completed") == len(connections)

    assert wait_until(sessions_ended, 10), scrape(sock)[1]

    content_type, text = scrape(sock)
    assert content_type == CONTENT_TYPE
    promtool_check(text)
    tcp_type, tcp_text = scrape(tcp=f"127.0.0.1:{admin_port}")  # no token: a read
    assert tcp_type == CONTENT_TYPE
    promtool_check(tcp_text)
    assert "# TYPE l4lb_listener_connections_accepted_total counter" in text
    assert '# TYPE l4lb_backend_connect_duration_seconds histogram' in text
    assert 'backend="gone \\"old\\" \\\\ one"' in text  # escaped as the format wants

    m = parse(text)
    assert value(m, "l4lb_build_info", version=value_of_version(text)) == 1
    assert value(m, "l4lb_workers") == 2
    assert value(m, "l4lb_start_time_seconds") > 1.6e9
    assert value(m, "l4lb_config_reloads_total", result="ok") == 0

    # Per listener.
    n = len(connections)
    assert value(m, "l4lb_listener_connections_accepted_total", listener="front") == n
    assert value(m, "l4lb_listener_connections_active", listener="front") == 0
    assert value(m, "l4lb_listener_bytes_from_clients_total", listener="front") == sent
    assert value(m, "l4lb_listener_bytes_from_backends_total", listener="front") == received
    assert value(m, "l4lb_listener_connections_refused_total", listener="guarded",
                 reason="acl") == 1
    assert value(m, "l4lb_listener_connections_accepted_total", listener="guarded") == 1
    assert value(m, "l4lb_listener_connections_refused_total", listener="front",
                 reason="acl") == 0
    assert value(m, "l4lb_listener_connections_ended_total", listener="front",
                 reason="no-backend") == 0

    # Per backend: bytes each way equal what the test sent and read.
    r1 = {"pool": "cache", "backend": "r1"}
    assert value(m, "l4lb_backend_connections_total", **r1) == n
    assert value(m, "l4lb_backend_connections_active", **r1) == 0
    assert value(m, "l4lb_backend_connect_failures_total", **r1) == 0
    assert value(m, "l4lb_backend_bytes_to_backend_total", **r1) == sent
    assert value(m, "l4lb_backend_bytes_from_backend_total", **r1) == received
    assert value(m, "l4lb_backend_connect_duration_seconds_count", **r1) == n
    assert value(m, "l4lb_backend_connect_duration_seconds_bucket", le="+Inf", **r1) == n
    assert value(m, "l4lb_backend_connect_duration_seconds_bucket", le="2.5", **r1) == n
    assert 0 < value(m, "l4lb_backend_connect_duration_seconds_sum", **r1) < 2.5 * n
    down = {"pool": "cache", "backend": DOWN_NAME}
    assert value(m, "l4lb_backend_connections_total", **down) == 0
    assert value(m, "l4lb_backend_connect_duration_seconds_count", **down) == 0
    assert value(m, "l4lb_backend_health_state", state="up", **down) == 0
    assert value(m, "l4lb_backend_admin_state", state="enabled", **down) == 1
    assert value(m, "l4lb_backend_weight", **r1) == 1
    assert value(m, "l4lb_backend_effective_weight", **r1) == 1
    assert value(m, "l4lb_backend_effective_weight", **down) == 0  # down by its checks
    assert value(m, "l4lb_backend_health_state", state="unchecked", pool="echo",
                 backend="echo1") == 1

    # Datagrams (summed over the workers: their counters are per worker).
    assert value(m, "l4lb_datagram_flows_created_total") == len(payloads)
    assert value(m, "l4lb_datagram_flows_active") == len(payloads)
    assert value(m, "l4lb_datagrams_received_total", **{"from": "client"}) == n_datagrams
    assert value(m, "l4lb_datagrams_sent_total", to="backend") == n_datagrams
    assert value(m, "l4lb_datagrams_received_total", **{"from": "backend"}) == n_datagrams
    assert value(m, "l4lb_datagrams_sent_total", to="client") == n_datagrams
    assert value(m, "l4lb_datagram_bytes_total", **{"from": "client"}) == n_bytes
    assert value(m, "l4lb_datagram_bytes_total", **{"from": "backend"}) == n_bytes
    assert value(m, "l4lb_datagrams_dropped_total", reason="no-backend") == 0
    assert value(m, "l4lb_backend_connections_total", pool="echo", backend="echo1") == \
        len(payloads)
    # Connect times and relayed bytes are stream families: none for a datagram pool.
    assert ("l4lb_backend_bytes_to_backend_total",
            frozenset({("pool", "echo"), ("backend", "echo1")})) not in m
    assert 'l4lb_backend_connect_duration_seconds_count{pool="echo"' not in text

    # The same numbers reach `l4lb ctl pool`.
    r = subprocess.run([L4LB_BIN, "ctl", "--socket", f"unix://{sock}", "pool", "cache"],
                       capture_output=True, text=True, timeout=IO_TIMEOUT + 5)
    assert r.returncode == 0, r.stderr
    header, row = r.stdout.splitlines()[1], next(
        line for line in r.stdout.splitlines() if line.startswith("r1 "))
    assert "BYTES IN" in header and "BYTES OUT" in header, r.stdout
    assert re.search(rf"\b{sent}\s+{received}\b", row), r.stdout

    # An operator drains r1: its admin state and effective weight follow in every worker.
    drain = subprocess.run(["curl", "-sS", "--fail", "-X", "PATCH", "-H",
                            "Content-Type: application/json", "--data-binary",
                            '{"state": "drain"}', "--unix-socket", sock,
                            "http://l4lb/api/v1/pools/cache/backends/r1"],
                           capture_output=True, text=True, timeout=IO_TIMEOUT + 5)
    assert drain.returncode == 0, drain.stderr

    def drained() -> bool:
        samples = parse(scrape(sock)[1])
        return (value(samples, "l4lb_backend_admin_state", state="draining", **r1) == 1 and
                value(samples, "l4lb_backend_effective_weight", **r1) == 0)

    assert wait_until(drained, 10), scrape(sock)[1]
    assert value(parse(scrape(sock)[1]), "l4lb_backend_admin_state", state="enabled", **r1) == 0

    # A write is still refused over tcp:// without the token; /metrics takes GET alone.
    post = subprocess.run(["curl", "-sS", "-o", "/dev/null", "-w", "%{http_code}", "-X", "POST",
                           "-d", "", "--unix-socket", sock, "http://l4lb/metrics"],
                          capture_output=True, text=True, timeout=IO_TIMEOUT + 5)
    assert post.stdout == "405", post


def value_of_version(text: str) -> str:
    found = re.search(r'^l4lb_build_info\{version="([^"]+)"\} 1$', text, re.M)
    assert found, text
    return found.group(1)


def test_counters_stay_monotonic_across_a_reload(l4lb, workdir, processes):
    """A reload builds new balancers and listener state in every worker; the counters of the
    listeners and backends it keeps (same names) carry on from where they were."""
    redis_port = free_port()
    processes.append(start_redis(workdir, redis_port))
    echo = udp_server()
    try:
        run_reload_test(l4lb, workdir, redis_port, echo)
    finally:
        echo.stop()


def run_reload_test(l4lb, workdir, redis_port, echo):
    front = tcp_url(free_port())
    udp_port = free_udp_port()
    sock = str(workdir / "admin.sock")
    config = config_toml(
        [{"name": "front", "bind": front, "pool": "cache"},
         {"name": "dgram", "bind": udp_url(udp_port), "pool": "echo"}],
        {"cache": {"backends": [{"address": tcp_url(redis_port), "name": "r1"}]},
         "echo": {"backends": [{"address": server_udp_url(echo), "name": "echo1"}]}},
        {"workers": 2})
    config += f'\n[admin]\nlisten = ["unix://{sock}"]\n'
    proc = l4lb(config, ready=[front])
    assert proc.wait_log(r"admin API listening on"), proc.describe()
    r1 = {"pool": "cache", "backend": "r1"}

    sent, received = talk(front, [(PING, PONG), (SET, OK)])
    client = udp_client()
    client.sendto(b"before", ("127.0.0.1", udp_port))
    assert client.recvfrom(2048)[0] == b"before"
    # Held open across the reload: it finishes under the old generation.
    held = connect(front)
    held.sendall(PING)
    assert recv_exact(held, len(PONG)) == PONG

    def first_ended() -> bool:
        return value(parse(scrape(sock)[1]), "l4lb_backend_connections_active", **r1) == 1

    assert wait_until(first_ended, 10), scrape(sock)[1]
    before = parse(scrape(sock)[1])
    assert value(before, "l4lb_backend_bytes_to_backend_total", **r1) == sent + len(PING)

    reload = subprocess.run(["curl", "-sS", "--fail", "-X", "POST", "-d", "", "--unix-socket",
                             sock, "http://l4lb/api/v1/reload"],
                            capture_output=True, text=True, timeout=IO_TIMEOUT + 5)
    assert reload.returncode == 0, reload.stderr
    assert proc.wait_log(r"reloaded "), proc.describe()
    time.sleep(0.5)  # the workers take the new generation from their loops' queues

    held.sendall(GET)
    assert recv_exact(held, len(HELLO)) == HELLO
    # The flow carries over to the new generation: not a new flow for its backend.
    client.sendto(b"after", ("127.0.0.1", udp_port))
    assert client.recvfrom(2048)[0] == b"after"
    client.close()
    held.close()
    s2, r2 = talk(front, [(GET, HELLO)])
    total_sent = sent + len(PING) + len(GET) + s2
    total_received = received + len(PONG) + len(HELLO) + r2

    def all_ended() -> bool:
        samples = parse(scrape(sock)[1])
        return value(samples, "l4lb_listener_connections_ended_total", listener="front",
                     reason="completed") == 3

    assert wait_until(all_ended, 10), scrape(sock)[1]
    text = scrape(sock)[1]
    promtool_check(text)
    after = parse(text)
    assert value(after, "l4lb_config_reloads_total", result="ok") == 1
    assert value(after, "l4lb_listener_connections_accepted_total", listener="front") == 3
    assert value(after, "l4lb_backend_connections_total", **r1) == 3
    assert value(after, "l4lb_backend_connections_active", **r1) == 0
    assert value(after, "l4lb_backend_connect_duration_seconds_count", **r1) == 3
    assert value(after, "l4lb_backend_bytes_to_backend_total", **r1) == total_sent
    assert value(after, "l4lb_backend_bytes_from_backend_total", **r1) == total_received
    assert value(after, "l4lb_listener_bytes_from_clients_total", listener="front") == total_sent
    echo1 = {"pool": "echo", "backend": "echo1"}
    assert value(after, "l4lb_datagram_flows_created_total") == 1
    assert value(after, "l4lb_backend_connections_total", **echo1) == 1
    assert value(after, "l4lb_backend_connections_active", **echo1) == 1
    assert value(after, "l4lb_datagram_bytes_total", **{"from": "client"}) == len(b"beforeafter")
    # The API's per-backend counters are the same counters: they carry on too (the README once
    # said they start over with each reload).
    api = subprocess.run(["curl", "-sS", "--fail", "--unix-socket", sock,
                          "http://l4lb/api/v1/pools/cache"],
                         capture_output=True, text=True, timeout=IO_TIMEOUT + 5)
    assert api.returncode == 0, api.stderr
    (r1_api,) = [b for b in json.loads(api.stdout)["backends"] if b["name"] == "r1"]
    assert (r1_api["total"], r1_api["bytes_in"], r1_api["bytes_out"]) == (
        3, total_sent, total_received), r1_api


def test_bulk_bytes_count_as_they_move_spliced_or_copied(l4lb, workdir, servers):
    """Bytes show while the connection is still open (counted per relay pass, not at its end),
    and a direction that moved on to splice(2) counts every byte too."""
    counter = servers(tcp_url(free_port()), count_handler, "counter")
    echo = servers(tcp_url(free_port()), name="echo")
    front, bulk = tcp_url(free_port()), tcp_url(free_port())
    sock = str(workdir / "admin.sock")
    config = config_toml(
        [{"name": "front", "bind": front, "pool": "count"},
         {"name": "bulk", "bind": bulk, "pool": "echo"}],
        {"count": {"backends": [{"address": counter.url, "name": "counter"}]},
         "echo": {"backends": [{"address": echo.url, "name": "echo"}]}},
        {"workers": 2, "splice": "auto"})
    config += f'\n[admin]\nlisten = ["unix://{sock}"]\n'
    proc = l4lb(config, ready=[front, bulk])
    assert proc.wait_log(r"admin API listening on"), proc.describe()
    size = 2 * MB
    counted = {"pool": "count", "backend": "counter"}

    with connect(front, timeout=30) as s:
        s.sendall(os.urandom(size))

        def all_counted() -> bool:
            samples = parse(scrape(sock)[1])
            return value(samples, "l4lb_backend_bytes_to_backend_total", **counted) == size

        # Still open: the backend waits for EOF before it answers.
        assert wait_until(all_counted, 10), scrape(sock)[1]
        samples = parse(scrape(sock)[1])
        assert value(samples, "l4lb_backend_connections_active", **counted) == 1
        assert value(samples, "l4lb_listener_bytes_from_clients_total", listener="front") == size
        s.shutdown(socket.SHUT_WR)
        assert recv_until_eof(s) == str(size).encode()

    payload = os.urandom(4 * MB)
    echoed = echo_both_ways(bulk, b"echo\n", payload)
    assert len(echoed) == len(payload)

    def echo_ended() -> bool:
        samples = parse(scrape(sock)[1])
        return value(samples, "l4lb_backend_connections_active", pool="echo", backend="echo") == 0

    assert wait_until(echo_ended, 10), scrape(sock)[1]
    text = scrape(sock)[1]
    promtool_check(text)
    m = parse(text)
    assert value(m, "l4lb_backend_bytes_to_backend_total", pool="echo", backend="echo") == \
        len(payload)
    assert value(m, "l4lb_backend_bytes_from_backend_total", pool="echo", backend="echo") == \
        len(payload) + len(b"echo\n")
    assert value(m, "l4lb_backend_bytes_from_backend_total", **counted) == len(str(size))
    assert value(m, "l4lb_listener_bytes_from_backends_total", listener="bulk") == \
        len(payload) + len(b"echo\n")
    # The transfer did move on to splice (the log at exit says how many directions did).
    assert proc.stop() == 0, proc.describe()
    spliced = re.search(r"\((\d+) bulk directions moved by splice", proc.stderr())
    assert spliced and int(spliced.group(1)) >= 2, proc.describe()


def reset_after_first_bytes(conn: socket.socket, server) -> None:
    """Accepts, reads the client's first bytes (so l4lb has seen the connect succeed), resets."""
    from harness import set_linger_zero

    conn.recv(64)
    set_linger_zero(conn)
    conn.close()


def test_backend_resets_are_not_connect_failures(l4lb, servers, workdir):
    """A backend that accepts every connect and then resets is counted in
    l4lb_backend_resets_total, not in l4lb_backend_connect_failures_total (which counted 11
    "connect failures" for 11 resets); a refused connect is the other way round. The admin API
    says the same."""
    from test_admin_api import curl

    resetter = servers(tcp_url(free_port()), reset_after_first_bytes, "resetter")
    dead = tcp_url(free_port())
    resets_front, dead_front = tcp_url(free_port()), tcp_url(free_port())
    sock = str(workdir / "admin.sock")
    no_ejection = {"balance": "round-robin", "retries": 0, "eject_after": 0}
    config = config_toml(
        [{"name": "resets", "bind": resets_front, "pool": "resetting"},
         {"name": "dead", "bind": dead_front, "pool": "refusing"}],
        {"resetting": {**no_ejection, "backends": [{"address": resetter.url, "name": "rs"}]},
         "refusing": {**no_ejection, "backends": [{"address": dead, "name": "gone"}]}})
    l4lb(config + f'\n[admin]\nlisten = ["unix://{sock}"]\n', ready=[resets_front, dead_front])
    for url, count in ((resets_front, 11), (dead_front, 3)):
        for _ in range(count):
            try:
                with connect(url) as s:
                    s.sendall(b"hello\n")
                    s.recv(64)
            except OSError:
                pass  # reset: by l4lb at once (refused), or passed on from the backend

    def ended(listener: str, count: int) -> bool:
        samples = parse(scrape(sock)[1])
        return sum(v for (name, labels), v in samples.items()
                   if name == "l4lb_listener_connections_ended_total" and
                   ("listener", listener) in labels) == count

    assert wait_until(lambda: ended("resets", 11) and ended("dead", 3), 10), scrape(sock)[1]
    m = parse(scrape(sock)[1])
    rs = {"pool": "resetting", "backend": "rs"}
    gone = {"pool": "refusing", "backend": "gone"}
    assert value(m, "l4lb_backend_connect_failures_total", **rs) == 0
    assert value(m, "l4lb_backend_resets_total", **rs) == 11
    assert value(m, "l4lb_backend_connect_failures_total", **gone) == 3
    assert value(m, "l4lb_backend_resets_total", **gone) == 0
    status, pool = curl(sock, "GET", "/api/v1/pools/resetting")
    assert status == 200, pool
    backend = pool["backends"][0]
    assert (backend["connect_failures"], backend["resets"]) == (0, 11), backend
    status, pool = curl(sock, "GET", "/api/v1/pools/refusing")
    backend = pool["backends"][0]
    assert (backend["connect_failures"], backend["resets"]) == (3, 0), backend
