"""Role-aware redis checks with real replication: a pool with role = "primary" follows the
primary when the roles are swapped (redis REPLICAOF), and one with role = "replica" the
replica."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from harness import (connect, free_port, recv_exact, recv_line, simple_config, start_redis,
                     tcp_url)
from health import log_offset, wait_state

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("redis-server", "redis-cli")), reason="no redis")


def cli(port: int, *args: str) -> str:
    r = subprocess.run(["redis-cli", "-p", str(port), *args], capture_output=True, text=True,
                       timeout=10)
    assert r.returncode == 0, r.stdout + r.stderr
    return r.stdout.strip()


def served_by(listen: str) -> str:
    """The run_id of the server a new connection reaches."""
    with connect(listen) as s:
        s.sendall(b"INFO server\r\n")
        header = recv_line(s)
        assert header.startswith(b"$"), header
        body = recv_exact(s, int(header[1:].strip()) + 2).decode(errors="replace")
    for line in body.splitlines():
        if line.startswith("run_id:"):
            return line.split(":", 1)[1].strip()
    raise AssertionError(f"no run_id in {body[:200]!r}")


def test_primary_pool_follows_the_primary_when_roles_swap(l4lb, workdir, processes):
    p1, p2 = free_port(), free_port()
    processes.append(start_redis(workdir, p1))
    processes.append(start_redis(workdir, p2))
    assert cli(p2, "replicaof", "127.0.0.1", str(p1)) == "OK"
    ids = {p: cli(p, "info", "server").split("run_id:")[1].split()[0] for p in (p1, p2)}
    listen = tcp_url(free_port())
    fall, interval = 2, 0.2
    health = {"check": "redis", "role": "primary", "interval": "200ms", "timeout": "300ms",
              "rise": 1, "fall": fall}
    proc = l4lb(simple_config(listen, [{"address": tcp_url(p1), "name": "a"},
                                       {"address": tcp_url(p2), "name": "b"}],
                              pool={"health": health}), ready=[listen])
    assert wait_state(proc, "a", "up", 10) is not None, proc.describe()
    assert wait_state(proc, "b", "down", 10) is not None, proc.describe()
    assert "role slave, not the primary" in proc.stderr()
    assert {served_by(listen) for _ in range(10)} == {ids[p1]}

    # Fail over: b becomes the primary, a its replica.
    offset = log_offset(proc)
    assert cli(p2, "replicaof", "no", "one") == "OK"
    assert cli(p1, "replicaof", "127.0.0.1", str(p2)) == "OK"
    bound = fall * interval * 1.1 + 0.3 + 2.0
    assert wait_state(proc, "b", "up", bound, after=offset) is not None, proc.describe()
    assert wait_state(proc, "a", "down", bound, after=offset) is not None, proc.describe()
    assert {served_by(listen) for _ in range(10)} == {ids[p2]}


def test_replica_pool_falls_back_to_a_backup_primary(l4lb, workdir, processes):
    """A read pool (role = "replica") with the primary as a backup whose own role is "primary":
    reads go to the replica while it is up, and to the primary when no replica is. Without the
    backend's role the primary would fail the pool's replica check and the pool would be empty."""
    p1, p2 = free_port(), free_port()
    primary = start_redis(workdir, p1)
    processes.append(primary)
    replica = start_redis(workdir, p2)
    processes.append(replica)
    assert cli(p2, "replicaof", "127.0.0.1", str(p1)) == "OK"
    ids = {p: cli(p, "info", "server").split("run_id:")[1].split()[0] for p in (p1, p2)}
    listen = tcp_url(free_port())
    health = {"check": "redis", "role": "replica", "interval": "200ms", "timeout": "300ms",
              "rise": 1, "fall": 2}
    proc = l4lb(simple_config(listen, [
        {"address": tcp_url(p2), "name": "replica"},
        {"address": tcp_url(p1), "name": "primary", "backup": True, "role": "primary"}],
        pool={"health": health, "retries": 1}), ready=[listen])
    assert wait_state(proc, "replica", "up", 10) is not None, proc.describe()
    assert wait_state(proc, "primary", "up", 10) is not None, proc.describe()
    assert {served_by(listen) for _ in range(10)} == {ids[p2]}

    offset = log_offset(proc)
    replica.stop()
    assert wait_state(proc, "replica", "down", 10, after=offset) is not None, proc.describe()
    assert {served_by(listen) for _ in range(10)} == {ids[p1]}
