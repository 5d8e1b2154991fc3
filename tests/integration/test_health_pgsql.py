"""The pgsql check against real PostgreSQL servers (throwaway clusters each test creates on its
own ports, pg_cluster.py): with the check no client reaches an impostor, with tcp some do; an
unknown database is down; password logins (SCRAM-SHA-256, md5, a wrong password, a role pool
without a password) end the way the server says; a server stopped and started under a client
loop costs no client session. No check leaves "unexpected EOF" noise in a server's log."""

from __future__ import annotations

import itertools
import os
import subprocess
import time

import pytest

from config_gen import config_toml
from harness import connect, free_port, simple_config, tcp_url
from health import CLIENT_MARK, Impostor, SequentialClients, log_offset, wait_state
from pg_cluster import HAVE_POSTGRES, PgCluster, query_one, startup_message

pytestmark = pytest.mark.skipif(not HAVE_POSTGRES, reason="no postgresql")


@pytest.fixture
def postgres(workdir):
    pg = PgCluster(workdir).init()
    try:
        pg.start()
        yield pg.url
    finally:
        pg.remove()


@pytest.mark.parametrize("check", ["pgsql", "tcp"])
def test_pgsql_check_keeps_clients_off_an_impostor(l4lb, postgres, check):
    impostor = Impostor(tcp_url(free_port()), reply=b"HTTP/1.1 400 Bad Request\r\n\r\n")
    listen = tcp_url(free_port())
    health = {"check": check, "interval": "200ms", "timeout": "2s", "rise": 1, "fall": 1}
    if check == "pgsql":
        health.update({"user": "l4lb", "database": "postgres"})
    try:
        proc = l4lb(simple_config(listen, [{"address": postgres, "name": "real"},
                                           {"address": impostor.url, "name": "impostor"}],
                                  pool={"health": health, "retries": 0}), ready=[listen])
        assert wait_state(proc, "real", "up", 15) is not None, proc.describe()
        assert wait_state(proc, "impostor", "down" if check == "pgsql" else "up", 15), \
            proc.describe()
        failed = 0
        for _ in range(20):
            try:
                with connect(listen) as s:
                    s.sendall(startup_message("l4lb", "postgres", CLIENT_MARK.decode()))
                    assert s.recv(1) == b"R"
                    s.sendall(b"X\0\0\0\x04")
            except (OSError, AssertionError):
                failed += 1
        if check == "pgsql":
            assert impostor.client_hits == 0 and failed == 0, \
                f"{impostor.client_hits} reached the impostor, {failed} failed"
            assert "ReadyForQuery" in proc.stderr(), proc.describe()
        else:
            assert impostor.client_hits > 0
    finally:
        impostor.stop()


def test_pgsql_unknown_database_is_down(l4lb, postgres):
    listen = tcp_url(free_port())
    proc = l4lb(simple_config(listen, [{"address": postgres, "name": "pg"}],
                              pool={"health": {"check": "pgsql", "user": "l4lb",
                                               "database": "nosuchdb", "interval": "200ms",
                                               "rise": 1, "fall": 1}}), ready=[listen])
    assert wait_state(proc, "pg", "down", 15) is not None, proc.describe()
    assert "nosuchdb" in proc.stderr() and "does not exist" in proc.stderr(), proc.describe()


# ---------------------------------------------------------------------------------------------
# Logins with a password (password_file), and a server stopped and started under clients

ALICE_PASSWORD = "alice-Pw-91c2"  # scram-sha-256
BOB_PASSWORD = "bob-Pw-5d0e"  # stored as md5
# What a server logs when a client drops a conversation instead of ending it.
SERVER_LOG_NOISE = ("unexpected EOF", "incomplete startup packet", "could not receive data")


@pytest.fixture
def clusters():
    made: list[PgCluster] = []
    yield made
    for c in reversed(made):
        c.remove()


def test_pgsql_password_logins(l4lb, workdir, clusters):
    pg = PgCluster(workdir).init(["host all alice 127.0.0.1/32 scram-sha-256",
                                  "host all bob 127.0.0.1/32 md5"])
    clusters.append(pg)
    pg.start()
    pg.psql(f"CREATE ROLE alice LOGIN PASSWORD '{ALICE_PASSWORD}'")
    pg.psql(f"SET password_encryption = 'md5'; CREATE ROLE bob LOGIN PASSWORD '{BOB_PASSWORD}'")
    assert pg.psql("SELECT rolpassword LIKE 'md5%' FROM pg_authid WHERE rolname = 'bob'") == "t"

    files = {}
    for name, text in (("alice", ALICE_PASSWORD), ("wrong", "not-" + ALICE_PASSWORD),
                       ("bob", BOB_PASSWORD)):
        files[name] = workdir / f"{name}.password"
        files[name].write_text(text + "\n")

    # backend name -> health table; one pool each, all on the same server.
    cases = {
        "scram": {"user": "alice", "password_file": str(files["alice"])},
        "wrongpw": {"user": "alice", "password_file": str(files["wrong"])},
        "md5": {"user": "bob", "password_file": str(files["bob"])},
        "primary": {"user": "alice", "password_file": str(files["alice"]), "role": "primary"},
        "replica": {"user": "bob", "password_file": str(files["bob"]), "role": "replica"},
        "nopw": {"user": "alice", "role": "primary"},
    }
    listeners, pools = [], {}
    for name, extra in cases.items():
        listen = tcp_url(free_port())
        listeners.append({"name": f"l-{name}", "bind": listen, "pool": f"p-{name}"})
        # A generous timeout: the first answer decides the logged reason, and six SCRAM and md5
        # logins at once under ASan on a loaded machine can take over a second.
        health = {"check": "pgsql", "database": "postgres", "interval": "200ms",
                  "timeout": "5s", "rise": 1, "fall": 1, **extra}
        pools[f"p-{name}"] = {"health": health, "backends": [{"address": pg.url, "name": name}]}
    proc = l4lb(config_toml(listeners, pools), ready=[ln["bind"] for ln in listeners])

    expected = {
        "scram": ("up", "ReadyForQuery (login: scram-sha-256)"),
        "md5": ("up", "ReadyForQuery (login: md5)"),
        "wrongpw": ("down", "login refused: FATAL 28P01 password authentication failed for "
                            "user \"alice\""),
        "primary": ("up", "role is primary (pg_is_in_recovery = f)"),
        "replica": ("down", "role is primary (pg_is_in_recovery = f), pool wants replica"),
        "nopw": ("down", "server asks for SASL authentication and no password_file is "
                         "configured"),
    }
    for name, (state, reason) in expected.items():
        assert wait_state(proc, name, state, 15) is not None, (name, proc.describe())
        assert f"backend {name}: " in proc.stderr()
        lines = [ln for ln in proc.stderr().splitlines() if f"backend {name}: " in ln]
        assert any(reason in ln for ln in lines), (name, reason, lines)
    # Several more rounds of every check, then the logs.
    time.sleep(1.0)
    log = proc.stderr()
    for secret in (ALICE_PASSWORD, BOB_PASSWORD):
        assert secret not in log
    server_log = pg.log()
    assert "password authentication failed for user \"alice\"" in server_log
    for noise in SERVER_LOG_NOISE:
        assert noise not in server_log, (noise, server_log[-3000:])
    assert "application_name=l4lb-health" in server_log  # log_connections: the checks' logins


def test_stopped_postgres_marked_down_then_up_without_client_failures(l4lb, workdir, clusters):
    pgs = [PgCluster(workdir, f"pg{i}").init() for i in range(2)]
    clusters.extend(pgs)
    for pg in pgs:
        pg.start()
    listen = tcp_url(free_port())
    # A smart shutdown (pg_ctl's gentlest) lets the sessions running finish, answers every new
    # login "57P03 the database system is shutting down" until they have, then closes the
    # connections the kernel had queued for it: retry_on sends those logins to pg1 with the
    # same startup bytes. (A fast one would cut sessions already logged in, which no balancer
    # can move.)
    proc = l4lb(simple_config(listen, [{"address": pg.url, "name": f"pg{i}"}
                                       for i, pg in enumerate(pgs)],
                              pool={"health": {"check": "pgsql", "user": "l4lb",
                                               "database": "postgres", "interval": "200ms",
                                               "timeout": "1s", "rise": 2, "fall": 2},
                                    "retries": 2,
                                    "retry_on": ["conn-failure", "empty-response",
                                                 "refused-greeting"]}),
                ready=[listen])
    for name in ("pg0", "pg1"):
        assert wait_state(proc, name, "up", 15) is not None, proc.describe()
    host, port = listen.removeprefix("tcp://").rsplit(":", 1)
    turn = itertools.count()

    def select_one():
        # Half the sessions are psql's: libpq asks for TLS first (sslmode=prefer), and the
        # server's one-byte "no" must not close the retry window or reach the client twice.
        if next(turn) % 2:
            assert query_one(listen, "SELECT 1") == "1"
            return
        r = subprocess.run(["psql", "-h", host, "-p", port, "-U", "l4lb", "-d", "postgres",
                            "-Atc", "SELECT 1"], capture_output=True, text=True, timeout=20,
                           env={**os.environ, "PGSSLMODE": "prefer", "PGCONNECT_TIMEOUT": "10"})
        assert r.returncode == 0 and r.stdout.strip() == "1", r.stderr

    clients = SequentialClients(select_one)
    try:
        time.sleep(0.5)
        offset = log_offset(proc)
        clients.phase = "stopping"
        pgs[0].stop("smart")
        assert wait_state(proc, "pg0", "down", 15, after=offset) is not None, proc.describe()
        clients.phase = "down"
        offset = log_offset(proc)
        pgs[0].start()
        assert wait_state(proc, "pg0", "up", 15, after=offset) is not None, proc.describe()
        time.sleep(0.5)
        clients.keep_on_until(21)
    finally:
        clients.stop()
    assert clients.ok > 20, f"only {clients.ok} client sessions ran"
    assert not clients.failures, clients.failures_by_phase
    assert "pg0: up -> down (pgsql check:" in proc.stderr()
    for pg in pgs:
        for noise in SERVER_LOG_NOISE:
            assert noise not in pg.log(), (pg.name, noise, pg.log()[-3000:])
