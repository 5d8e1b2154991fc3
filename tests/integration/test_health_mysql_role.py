"""Role-aware mysql checks against two real MariaDB servers: a pool with role = "primary" sends
clients only to the server with read_only = 0, a pool with role = "replica" only to the one
with read_only = 1, and when read_only is swapped on both (a failover, as far as the check can
tell) both pools follow within fall x interval. The check logs in with a password from
password_file (mysql_native_password) and reads @@global.read_only."""

from __future__ import annotations

import re

import pytest

from harness import config_toml, free_port, tcp_url, wait_until
from health import MariadbServers, log_offset, mariadb_available, mysql_query, wait_state

pytestmark = pytest.mark.skipif(not mariadb_available(), reason="mariadb-server not installed")

PASSWORD = "role-check pw"
INTERVAL, TIMEOUT, FALL = 0.2, 1.0, 2
# Scheduling slack on a loaded machine, on top of the bound the checks promise.
SLACK = 3.0


@pytest.fixture
def mariadbs():
    servers = MariadbServers()
    yield servers
    servers.stop_all()


def served_by(listen: str) -> set[str]:
    """The ports of the servers ten new client sessions through `listen` reach."""
    return {mysql_query(listen, "l4lb", PASSWORD, "SELECT @@port") for _ in range(10)}


def test_role_pools_follow_read_only_when_it_swaps(l4lb, mariadbs, workdir):
    a, b = (mariadbs.start(args=["--skip-name-resolve"]) for _ in range(2))
    for db in (a, b):
        db.sql(f"CREATE USER 'l4lb'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'; FLUSH STATUS;")
    b.sql("SET GLOBAL read_only = 1")
    (workdir / "pw").write_text(PASSWORD + "\n")
    health = {"check": "mysql", "user": "l4lb", "password_file": str(workdir / "pw"),
              "interval": f"{int(INTERVAL * 1000)}ms", "timeout": f"{int(TIMEOUT * 1000)}ms",
              "rise": 1, "fall": FALL}
    listen_p, listen_r = tcp_url(free_port()), tcp_url(free_port())
    config = config_toml(
        [{"name": "writes", "bind": listen_p, "pool": "primary"},
         {"name": "reads", "bind": listen_r, "pool": "replica"}],
        {"primary": {"backends": [{"address": a.url, "name": "pa"},
                                  {"address": b.url, "name": "pb"}],
                     "health": {**health, "role": "primary"}, "retries": 2},
         "replica": {"backends": [{"address": a.url, "name": "ra"},
                                  {"address": b.url, "name": "rb"}],
                     "health": {**health, "role": "replica"}, "retries": 2}})
    proc = l4lb(config, ready=[listen_p, listen_r])
    for name, state in (("pa", "up"), ("pb", "down"), ("ra", "down"), ("rb", "up")):
        assert wait_state(proc, name, state, 20) is not None, proc.describe()
    log = proc.stderr()
    assert re.search(r"pb: \w+ -> down \(mysql check: role is replica \(read_only = 1\), "
                     r"pool wants primary\)", log), log
    assert re.search(r"ra: \w+ -> down \(mysql check: role is primary \(read_only = 0\), "
                     r"pool wants replica\)", log), log
    assert PASSWORD not in log
    assert served_by(listen_p) == {str(a.port)}
    assert served_by(listen_r) == {str(b.port)}

    # Swap: a is demoted first, then b promoted, as a failover would.
    offset = log_offset(proc)
    a.sql("SET GLOBAL read_only = 1")
    b.sql("SET GLOBAL read_only = 0")
    bound = FALL * INTERVAL * 1.1 + TIMEOUT + SLACK
    for name, state in (("pa", "down"), ("pb", "up"), ("ra", "up"), ("rb", "down")):
        assert wait_state(proc, name, state, bound, after=offset) is not None, proc.describe()
    # Workers take the new states from the next snapshot: bounded wait, then exact sets.
    assert wait_until(lambda: served_by(listen_p) == {str(b.port)}, 10), served_by(listen_p)
    assert wait_until(lambda: served_by(listen_r) == {str(a.port)}, 10), served_by(listen_r)

    # The checks log in and quit: the servers saw no aborted connect, and no aborted client.
    for db in (a, b):
        assert db.status("Aborted_connects") == 0, db.sql("SHOW GLOBAL STATUS LIKE 'Abort%'")
        assert db.status("Aborted_clients") == 0, db.sql("SHOW GLOBAL STATUS LIKE 'Abort%'")
