"""Instances behind ECMP must send a client to the same backend without talking to each other
(README.md, "Admin API", "Do instances agree?"). Each maglev pool shows its table's digest (API,
metrics, `ctl pool`) and answers "which backend for this client" (`GET
/api/v1/pools/{pool}/lookup`, `ctl lookup`). Checked on two real l4lb processes with the same
pool listed in different orders, against real connections from many client addresses
(127.0.0.N) to backends that answer their own name."""

from __future__ import annotations

import re
import socket
import subprocess
from dataclasses import dataclass

from harness import (L4lb, free_port, recv_line, simple_config, sockaddr_of, tcp_url,
                     wait_until)
from test_admin_api import ctl, curl
from test_metrics import promtool_check

NAMES = ["alpha", "bravo", "charlie", "delta"]
CLIENTS = [f"127.0.0.{n}" for n in range(2, 26)]


@dataclass
class Instance:
    proc: L4lb
    listen: str
    sock: str

    def api(self, path: str, method: str = "GET", body: str | None = None):
        return curl(self.sock, method, path, body)

    def digest(self) -> str:
        status, pool = self.api("/api/v1/pools/back")
        assert status == 200, pool
        return pool["maglev"]["digest"]

    def lookup(self, client: str) -> dict:
        status, answer = self.api(f"/api/v1/pools/back/lookup?client={client}")
        assert status == 200, answer
        return answer

    def ctl(self, *args: str):
        return ctl("--socket", f"unix://{self.sock}", *args)


def ask_name_from(url: str, source: str, source_port: int = 0) -> str:
    """The name of the backend a connection from `source` reaches through `url`."""
    family, addr = sockaddr_of(url)
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.settimeout(10)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind((source, source_port))
        s.connect(addr)
        return recv_line(s).decode().strip()


def name_servers(servers) -> dict:
    return {name: servers(tcp_url(free_port()), name=name) for name in NAMES}


def start_instance(l4lb, workdir, backends: dict, order: list[str], tag: str,
                   pool: dict | None = None) -> Instance:
    listen = tcp_url(free_port())
    sock = str(workdir / f"admin-{tag}.sock")
    entries = [{"address": backends[name].url, "name": name} for name in order]
    settings = {"maglev_table_size": 1009}
    settings.update(pool or {})
    text = simple_config(listen, entries, "maglev", global_={"workers": 2}, pool=settings)
    text += f'\n[admin]\nlisten = ["unix://{sock}"]\n'
    proc = l4lb(text, ready=[listen])
    assert proc.wait_log(r"admin API listening on"), proc.describe()
    return Instance(proc, listen, sock)


def two_instances(l4lb, workdir, servers) -> tuple[Instance, Instance]:
    backends = name_servers(servers)
    a = start_instance(l4lb, workdir, backends, NAMES, "a")
    b = start_instance(l4lb, workdir, backends, list(reversed(NAMES)), "b")
    return a, b


def metrics_of(instance: Instance) -> str:
    out = subprocess.run(["curl", "-sS", "--max-time", "10", "--unix-socket", instance.sock,
                          "http://l4lb/metrics"], capture_output=True, text=True, timeout=15)
    assert out.returncode == 0, out.stderr
    return out.stdout


def traffic_matches_lookups(instance: Instance) -> bool:
    return all(ask_name_from(instance.listen, c) == instance.lookup(c)["backend"]["name"]
               for c in CLIENTS)


def test_two_instances_agree_and_traffic_goes_where_lookup_says(l4lb, workdir, servers):
    a, b = two_instances(l4lb, workdir, servers)
    digest = a.digest()
    assert re.fullmatch(r"[0-9a-f]{16}", digest), digest
    assert b.digest() == digest
    status, pools = a.api("/api/v1/pools")
    assert status == 200 and pools["pools"][0]["maglev"] == {"table_size": 1009,
                                                             "digest": digest}, pools

    reached = set()
    for client in CLIENTS:
        answer = a.lookup(client)
        assert b.lookup(client)["backend"] == answer["backend"], client
        assert answer["fallback"] is False and answer["table_owner"] == answer["backend"]
        assert answer["digest"] == digest and answer["hash_key"] == "client-ip"
        name = answer["backend"]["name"]
        # Each instance sends the client there, connection after connection.
        assert ask_name_from(a.listen, client) == name, client
        assert ask_name_from(b.listen, client) == name, client
        assert ask_name_from(a.listen, client) == name, client
        reached.add(name)
    assert len(reached) >= 3, reached  # the clients spread: the agreement is not trivial

    for instance in (a, b):
        r = instance.ctl("pool", "back")
        assert r.returncode == 0, r.stderr
        first = r.stdout.splitlines()[0]
        assert f"digest {digest}" in first and "table 1009 slots" in first, r.stdout
        # The table still starts on the second line (completion reads the names below it).
        assert r.stdout.splitlines()[1].split()[:2] == ["NAME", "ADDRESS"], r.stdout
        text = metrics_of(instance)
        assert f'l4lb_pool_maglev_info{{pool="back",digest="{digest}"}} 1' in text, text
        promtool_check(text)

    client = CLIENTS[0]
    r = a.ctl("lookup", "back", client)
    assert r.returncode == 0, r.stderr
    backend_line = next(line for line in r.stdout.splitlines() if line.startswith("backend"))
    assert backend_line.split()[1] == a.lookup(client)["backend"]["name"], r.stdout
    assert digest in r.stdout, r.stdout
    r = a.ctl("--json", "lookup", "back", client)
    assert r.returncode == 0 and '"slot"' in r.stdout, r.stdout


def test_a_weight_change_changes_the_digest_and_lookup_still_matches_traffic(l4lb, workdir,
                                                                             servers):
    a, b = two_instances(l4lb, workdir, servers)
    before = a.digest()
    before_answers = {c: a.lookup(c)["backend"]["name"] for c in CLIENTS}

    r = a.ctl("weight", "back", "alpha", "4")
    assert r.returncode == 0, r.stderr
    assert a.proc.wait_log(r"backend alpha: weight 1 -> 4 \(admin API\)")
    after = a.digest()
    assert after != before
    assert b.digest() == before  # the instances now disagree, and it shows
    assert f'digest="{after}"' in metrics_of(a)
    # The workers apply the new table a moment after the API answers: bounded wait, then every
    # client goes where the lookup says.
    assert wait_until(lambda: traffic_matches_lookups(a), 10), \
        {c: (ask_name_from(a.listen, c), a.lookup(c)) for c in CLIENTS}
    after_answers = {c: a.lookup(c)["backend"]["name"] for c in CLIENTS}
    moved = {c for c in CLIENTS if after_answers[c] != before_answers[c]}
    # Alpha's share grew: clients moved, to alpha (Maglev moves few others, but may move some).
    assert any(after_answers[c] == "alpha" for c in moved), (before_answers, after_answers)

    # The same weight on the other instance: they agree again, on digest and on every client.
    r = b.ctl("weight", "back", "alpha", "4")
    assert r.returncode == 0, r.stderr
    assert b.digest() == after
    assert all(b.lookup(c)["backend"]["name"] == after_answers[c] for c in CLIENTS)
    assert wait_until(lambda: traffic_matches_lookups(b), 10)


def test_a_drained_owner_falls_back_where_connections_go(l4lb, workdir, servers):
    backends = name_servers(servers)
    a = start_instance(l4lb, workdir, backends, NAMES, "a")
    client = CLIENTS[0]
    owner = a.lookup(client)["backend"]["name"]
    r = a.ctl("drain", "back", owner)
    assert r.returncode == 0, r.stderr
    answer = a.lookup(client)
    assert answer["fallback"] is True, answer
    assert answer["table_owner"]["name"] == owner and answer["table_owner"]["state"] == "draining"
    assert answer["backend"]["name"] != owner
    assert answer["digest"] == a.digest()  # a drain changes who answers, not the table
    assert wait_until(lambda: traffic_matches_lookups(a), 10)
    assert ask_name_from(a.listen, client) == answer["backend"]["name"]
    r = a.ctl("lookup", "back", client)
    assert r.returncode == 0 and "fell back" in r.stdout, r.stdout

    r = a.ctl("enable", "back", owner)
    assert r.returncode == 0, r.stderr
    assert a.lookup(client)["backend"]["name"] == owner
    assert wait_until(lambda: ask_name_from(a.listen, client) == owner, 10)


def test_client_ip_port_lookups_name_the_port(l4lb, workdir, servers):
    backends = name_servers(servers)
    a = start_instance(l4lb, workdir, backends, NAMES, "a", pool={"hash_key": "client-ip-port"})
    status, body = a.api("/api/v1/pools/back/lookup?client=127.0.0.2")
    assert status == 400 and "client-ip-port" in body["error"], body
    reached = set()
    for n in range(2, 14):
        source = f"127.0.0.{n}"
        port = free_port(source)
        name = ask_name_from(a.listen, source, port)
        answer = a.lookup(f"{source}:{port}")
        assert answer["hash_key"] == "client-ip-port"
        assert answer["backend"]["name"] == name, (source, port, answer)
        reached.add(name)
    assert len(reached) >= 2, reached


def test_lookup_errors(l4lb, workdir, servers):
    backends = name_servers(servers)
    a = start_instance(l4lb, workdir, backends, NAMES, "a")
    status, body = a.api("/api/v1/pools/nope/lookup?client=127.0.0.2")
    assert status == 404 and "nope" in body["error"], body
    for bad in ("web-1.internal", "127.0.0.2:99999", "%5B::1"):
        status, body = a.api(f"/api/v1/pools/back/lookup?client={bad}")
        assert status == 400 and "is not a client address" in body["error"], (bad, body)
    status, body = a.api("/api/v1/pools/back/lookup")
    assert status == 400 and "?client=" in body["error"], body
    r = a.ctl("lookup", "back", "not-an-address")
    assert r.returncode == 1 and "not-an-address" in r.stderr, (r.stdout, r.stderr)


def test_lookup_needs_a_maglev_pool(l4lb, workdir, servers):
    b1 = servers(tcp_url(free_port()), name="b1")
    listen = tcp_url(free_port())
    sock = str(workdir / "admin.sock")
    text = simple_config(listen, [b1.url]) + f'\n[admin]\nlisten = ["unix://{sock}"]\n'
    proc = l4lb(text, ready=[listen])
    assert proc.wait_log(r"admin API listening on")
    status, body = curl(sock, "GET", "/api/v1/pools/back/lookup?client=127.0.0.2")
    assert status == 409 and 'balance = "maglev"' in body["error"], body
    status, pool = curl(sock, "GET", "/api/v1/pools/back")
    assert status == 200 and pool["maglev"] is None, pool
    r = ctl("--socket", f"unix://{sock}", "lookup", "back", "127.0.0.2")
    assert r.returncode == 1 and "maglev" in r.stderr, r.stderr
