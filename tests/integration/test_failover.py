"""Connect failures: a dead backend is retried past without the client noticing; when every
backend is dead the client is closed without data and l4lb logs why."""

from __future__ import annotations

import collections
import re

import pytest

import harness

from harness import ask_name, connect_expect_closed, free_port, simple_config, tcp_url, wait_until

ALGORITHMS = ["round-robin", "least-conn", "random-two", "maglev", "first"]


@pytest.mark.parametrize("balance", ALGORITHMS)
def test_dead_backend_is_skipped_with_zero_failures(l4lb, servers, balance):
    dead = tcp_url(free_port())  # nothing listens there: connect is refused
    b1 = servers(tcp_url(free_port()), name="b1")
    b2 = servers(tcp_url(free_port()), name="b2")
    listen = tcp_url(free_port())
    # The dead one first, so `first` and half of the others must go through a retry.
    l4lb(simple_config(listen, [dead, b1.url, b2.url], balance, pool={"retries": 2}),
         ready=[listen])
    failures = []
    names = collections.Counter()
    for i in range(200):
        try:
            name = ask_name(listen)
        except OSError as e:
            failures.append(f"#{i}: {e!r}")
            continue
        if name not in ("b1", "b2"):
            failures.append(f"#{i}: got {name!r}")
        names[name] += 1
    assert not failures, f"{len(failures)} of 200 failed: {failures[:10]}"
    assert sum(names.values()) == 200


def test_all_backends_dead_closes_client_and_logs_reason(l4lb):
    dead = [tcp_url(free_port()) for _ in range(2)]
    listen = tcp_url(free_port())
    proc = l4lb(simple_config(listen, dead, pool={"retries": 2}), ready=[listen])
    how, data = connect_expect_closed(listen, b"hello\n")
    assert data == b"", f"client got data {data!r} though no backend exists"
    assert how in ("eof", "reset")
    # The log names the failure and why (connection refused) for the dead backends.
    m = proc.wait_log(r"(?i)refused", timeout=10)
    assert m, "no log line with the connect failure reason\n" + proc.describe()
    assert proc.alive(), proc.describe()
    port = dead[0].rsplit(":", 1)[1]
    assert re.search(rf"(?i)^.*{port}.*$", proc.stderr(), re.MULTILINE), \
        "the failing backend address is not in the log\n" + proc.describe()


def test_retries_zero_gives_up_after_one_attempt(l4lb, servers):
    dead = tcp_url(free_port())
    b1 = servers(tcp_url(free_port()), name="b1")
    listen = tcp_url(free_port())
    l4lb(simple_config(listen, [dead, b1.url], "first", pool={"retries": 0}), ready=[listen])
    how, data = connect_expect_closed(listen)
    assert data == b"", "retries = 0 still retried the next backend"
    assert b1.accepted == 0


def test_backend_comes_back(l4lb, servers):
    port = free_port()
    url = tcp_url(port)
    listen = tcp_url(free_port())
    l4lb(simple_config(listen, [url], pool={"retries": 1}), ready=[listen])
    assert connect_expect_closed(listen)[1] == b""
    servers(url, name="late")

    def answers():
        try:
            return ask_name(listen, timeout=5) == "late"
        except OSError:
            return False

    # At once without health checks; within a generous bound if passive health marked it down.
    assert wait_until(answers, 30, 0.5), "backend that came back is never used"


@pytest.fixture
def blackhole():
    b = harness.Blackhole()
    if not b.works():
        b.close()
        pytest.skip("could not make a port that drops SYNs (full accept queue) here")
    yield b
    b.close()


def test_connect_timeout_then_next_backend(l4lb, servers, blackhole):
    b1 = servers(tcp_url(free_port()), name="b1")
    listen = tcp_url(free_port())
    l4lb(simple_config(listen, [blackhole.url, b1.url], "first",
                       pool={"retries": 1, "connect_timeout": "500ms"}), ready=[listen])
    assert ask_name(listen) == "b1"
    assert ask_name(listen) == "b1"


def test_connect_timeout_on_every_backend_closes_client(l4lb, blackhole):
    listen = tcp_url(free_port())
    proc = l4lb(simple_config(listen, [blackhole.url], pool={"retries": 0,
                                                            "connect_timeout": "500ms"}),
                ready=[listen])
    how, data = connect_expect_closed(listen, b"hello\n")
    assert data == b"" and how in ("eof", "reset")
    assert proc.wait_log(r"(?i)tim(ed|e)[ -]?out", 10), \
        "the failure log does not say the backend timed out\n" + proc.describe()
    assert proc.alive()


def test_client_bytes_sent_before_backend_connects_survive_a_retry(l4lb, servers):
    """The client talks first, at once; its first backend refuses. The bytes must reach the
    backend that is finally connected, in order and complete."""
    dead = tcp_url(free_port())
    b1 = servers(tcp_url(free_port()), name="b1")
    listen = tcp_url(free_port())
    l4lb(simple_config(listen, [dead, b1.url], "first", pool={"retries": 1}), ready=[listen])
    for i in range(50):
        msg = f"early bytes {i} ".encode() * 100 + b"\n"
        with harness.connect(listen) as s:
            s.sendall(msg)
            expected = b"b1\n" + msg  # the name, then the echo
            assert harness.recv_exact(s, len(expected)) == expected
