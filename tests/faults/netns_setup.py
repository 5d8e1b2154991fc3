"""l4lb in the topology's lb host with the three backend hosts behind it."""

from __future__ import annotations

from net import wait_until

import faults
from config_gen import simple_config
from topology import VIP

LISTEN_PORT = 8000


def start(topo, l4lb, workdir, pool: dict | None = None, listener: dict | None = None):
    """(l4lb process, backends, the VIP address to target, admin socket path)."""
    backends = [faults.Backend(workdir, b, wrap=topo.wrap(b), host=topo.backend_addresses[b])
                for b in topo.backend_names]
    sock = workdir / "admin.sock"
    p = {"connect_timeout": "1s", "retries": 2,
         "health": {"check": "tcp", "interval": "500ms", "timeout": "500ms", "rise": 1,
                    "fall": 2}}
    p.update(pool or {})
    config = simple_config(f"tcp://{VIP}:{LISTEN_PORT}", [b.url for b in backends], pool=p,
                           listener={"idle_timeout": "60s", **(listener or {})},
                           global_={"access_log": "off"})
    config += f'\n[admin]\nlisten = ["unix://{sock}"]\n'
    proc = l4lb(config, ready=[f"tcp://{VIP}:{LISTEN_PORT}"], wrapper=topo.wrap("lb"))
    assert wait_until(lambda: proc.stderr().count(": unknown -> up") >= len(backends), 15), \
        proc.describe()
    return proc, backends, f"{VIP}:{LISTEN_PORT}", sock


def client_args(topo, n: int = 20) -> list[str]:
    out = []
    for a in topo.client_addresses[:n]:
        out += ["--source", a]
    return out
