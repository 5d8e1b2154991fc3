"""The admin API as tests read it: GET over the unix:// socket of a running l4lb, with curl (what
an operator would use), each request bounded in time. A `target` is the socket's path, or the
l4lb process itself (its socket then comes from the config it runs)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from net import IO_TIMEOUT, wait_until


def admin_socket(proc) -> str:
    """The path of the first unix:// socket in [admin] listen of the config `proc` runs (-c)."""
    text = Path(proc.args[proc.args.index("-c") + 1]).read_text()
    return text.split("unix://")[1].split('"')[0]


def _socket_of(target) -> str:
    return str(target) if isinstance(target, (str, Path)) else admin_socket(target)


def admin_get(target, path: str) -> str:
    """The body of GET `path` ("/metrics", "/api/v1/status"); fails the test unless curl got
    an answer."""
    out = subprocess.run(["curl", "-sS", "--max-time", str(IO_TIMEOUT), "--unix-socket",
                          _socket_of(target), f"http://l4lb{path}"],
                         capture_output=True, text=True, timeout=IO_TIMEOUT + 5)
    assert out.returncode == 0, out.stderr
    return out.stdout


def api(target, path: str) -> dict:
    """The JSON of GET /api/v1`path` ("/pools/back")."""
    return json.loads(admin_get(target, "/api/v1" + path))


def pool_backends(target, pool: str = "back", key: str = "address") -> dict[str, dict]:
    """`pool`'s backends as GET /api/v1/pools/POOL shows them, by `key` ("address", "name")."""
    return {b[key]: b for b in api(target, f"/pools/{pool}")["backends"]}


def pool_backend(target, name: str, pool: str = "back") -> dict:
    """The backend `name` of `pool` as the API shows it."""
    return pool_backends(target, pool, key="name")[name]


def wait_pool_backends(proc, addresses: set[str], pool: str = "back",
                       timeout: float = 20) -> dict[str, dict]:
    """Waits until `pool`'s backends are exactly `addresses` (bounded by `timeout`); them, by
    address."""
    found: dict[str, dict] = {}

    def check() -> bool:
        nonlocal found
        found = pool_backends(proc, pool)
        return set(found) == addresses

    assert wait_until(check, timeout, 0.1), (sorted(found), sorted(addresses), proc.describe())
    return found
