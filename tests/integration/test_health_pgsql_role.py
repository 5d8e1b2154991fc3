"""Role-aware pgsql checks with real streaming replication: a primary, a standby made from it
with pg_basebackup -R, and l4lb with a role = "primary" pool and a role = "replica" pool over
both, logging in with SCRAM-SHA-256. Each pool sends clients only to the server of its role,
and after a switchover (the primary stopped, the standby promoted, the old primary restarted as
a standby of the new one) both pools follow."""

from __future__ import annotations

import pytest

from harness import free_port, tcp_url
from health import log_offset, wait_state
from config_gen import config_toml
from pg_cluster import HAVE_POSTGRES, PgCluster, query_one

pytestmark = pytest.mark.skipif(not HAVE_POSTGRES, reason="no postgresql")

INTERVAL = 0.2
TIMEOUT = 1.0
FALL = 2
# Scheduling slack on a loaded machine, on top of the bound the checks promise.
SLACK = 3.0
PASSWORD = "checker-Pw-7f3a"


@pytest.fixture
def clusters(workdir):
    made: list[PgCluster] = []
    yield made
    for c in reversed(made):
        c.remove()


def served_by(listen: str) -> set[str]:
    """The ports of the servers ten new connections through `listen` reach."""
    return {query_one(listen, "SHOW port") for _ in range(10)}


def test_role_pools_follow_a_switchover(l4lb, workdir, clusters):
    a = PgCluster(workdir, "pg-a").init(["host all checker 127.0.0.1/32 scram-sha-256"])
    clusters.append(a)
    a.start()
    a.psql(f"CREATE ROLE checker LOGIN PASSWORD '{PASSWORD}'")
    b = a.make_standby(workdir, "pg-b")
    clusters.append(b)
    b.start()
    assert b.psql("SELECT pg_is_in_recovery()") == "t"

    password_file = workdir / "checker.password"
    password_file.write_text(PASSWORD + "\n")
    health = {"check": "pgsql", "user": "checker", "database": "postgres",
              "password_file": str(password_file), "interval": "200ms", "timeout": "1s",
              "rise": 1, "fall": FALL}
    rw, ro = tcp_url(free_port()), tcp_url(free_port())

    def pool(role: str, prefix: str) -> dict:
        return {"balance": "round-robin", "connect_timeout": "2s", "retries": 2,
                "health": dict(health, role=role),
                "backends": [{"address": a.url, "name": f"{prefix}a"},
                             {"address": b.url, "name": f"{prefix}b"}]}

    proc = l4lb(config_toml([{"name": "rw", "bind": rw, "pool": "primary"},
                             {"name": "ro", "bind": ro, "pool": "replica"}],
                            {"primary": pool("primary", "p"), "replica": pool("replica", "r")}),
                ready=[rw, ro])
    for name, state in (("pa", "up"), ("pb", "down"), ("ra", "down"), ("rb", "up")):
        assert wait_state(proc, name, state, 15) is not None, (name, proc.describe())
    log = proc.stderr()
    assert "role is replica (pg_is_in_recovery = t), pool wants primary" in log, log
    assert "role is primary (pg_is_in_recovery = f), pool wants replica" in log, log
    assert PASSWORD not in log
    assert served_by(rw) == {str(a.port)}
    assert served_by(ro) == {str(b.port)}

    # Switchover: a stopped cleanly (its last WAL reaches b), b promoted.
    offset = log_offset(proc)
    a.stop("fast")
    b.promote()
    bound = FALL * INTERVAL * 1.1 + TIMEOUT + SLACK
    assert wait_state(proc, "pb", "up", bound, after=offset) is not None, proc.describe()
    assert wait_state(proc, "pa", "down", bound, after=offset) is not None, proc.describe()
    assert wait_state(proc, "rb", "down", bound, after=offset) is not None, proc.describe()
    assert served_by(rw) == {str(b.port)}

    # a comes back as b's standby: the replica pool takes it, the primary pool keeps it out.
    offset = log_offset(proc)
    a.follow(b)
    a.start()
    assert wait_state(proc, "ra", "up", 30, after=offset) is not None, proc.describe()
    assert a.psql("SELECT pg_is_in_recovery()") == "t"
    assert served_by(ro) == {str(a.port)}
    assert served_by(rw) == {str(b.port)}
    assert "backend pa: down -> up" not in proc.stderr()[offset:]

    # The checks log in and out politely: nothing in either server's log about a client that
    # vanished mid-conversation.
    for c in (a, b):
        for noise in ("unexpected EOF", "incomplete startup packet", "could not receive data",
                      "password authentication failed"):
            assert noise not in c.log(), (c.name, noise, c.log()[-3000:])
