"""The admin API (README.md, "Admin API"): curl over the unix socket and `l4lb ctl` against a
running l4lb with in-process backends that answer their own name."""

from __future__ import annotations

import collections
import json
import os
import stat
import subprocess

import pytest

from harness import (L4LB_BIN, ask_name, config_toml, connect, free_port, free_udp_port,
                     recv_line, server_udp_url, simple_config, tcp_url, udp_client, udp_server,
                     udp_url, wait_until)

IO_TIMEOUT = 10


def curl(sock: str, method: str, path: str, body: str | None = None,
         tcp: str | None = None, token: str | None = None) -> tuple[int, dict]:
    """(status, JSON body) of one request, over the unix socket `sock` or to `tcp` host:port."""
    argv = ["curl", "-sS", "--max-time", str(IO_TIMEOUT), "-X", method, "-w", "\n%{http_code}"]
    if tcp:
        url = f"http://{tcp}{path}"
    else:
        argv += ["--unix-socket", sock]
        url = f"http://l4lb{path}"
    if body is not None:
        argv += ["-H", "Content-Type: application/json", "--data-binary", body]
    if token:
        argv += ["-H", f"Authorization: Bearer {token}"]
    out = subprocess.run(argv + [url], capture_output=True, text=True, timeout=IO_TIMEOUT + 5)
    assert out.returncode == 0, out.stderr
    text, _, status = out.stdout.rpartition("\n")
    return int(status), json.loads(text)


def ctl(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([L4LB_BIN, "ctl", *args], capture_output=True, text=True,
                          timeout=IO_TIMEOUT + 5)


def start(l4lb, workdir, servers, n=2, balance="round-robin", workers=2, pool=None,
          admin=None, names=None):
    bs = [servers(tcp_url(free_port()), name=f"b{i + 1}") for i in range(n)]
    listen = tcp_url(free_port())
    sock = str(workdir / "admin.sock")
    entries = [{"address": b.url, "name": (names or {}).get(i, b.url)} if names else
               {"address": b.url} for i, b in enumerate(bs)]
    text = simple_config(listen, entries, balance, global_={"workers": workers}, pool=pool)
    text += "\n[admin]\n" + (admin or f'listen = ["unix://{sock}"]') + "\n"
    proc = l4lb(text, ready=[listen])
    assert proc.wait_log(r"admin API listening on"), proc.describe()
    return proc, listen, sock, bs


def names_of(listen: str, n: int) -> collections.Counter:
    return collections.Counter(ask_name(listen) for _ in range(n))


def test_get_views_and_socket_mode(l4lb, workdir, servers):
    proc, listen, sock, bs = start(l4lb, workdir, servers)
    assert stat.S_IMODE(os.stat(sock).st_mode) == 0o600
    status, body = curl(sock, "GET", "/api/v1/status")
    assert status == 200, body
    assert body["workers"] == 2 and body["version"] and len(body["config"]["sha256"]) == 64
    status, body = curl(sock, "GET", "/api/v1/listeners")
    assert status == 200 and body["listeners"][0]["bind"] == listen, body
    status, body = curl(sock, "GET", "/api/v1/pools")
    assert status == 200 and body["pools"][0]["name"] == "back", body
    assert body["pools"][0]["backends_available"] == 2, body
    status, body = curl(sock, "GET", "/api/v1/pools/back")
    assert status == 200, body
    assert [b["name"] for b in body["backends"]] == [b.url for b in bs]
    assert all(b["state"] == "up" and b["weight"] == 1 for b in body["backends"]), body
    status, body = curl(sock, "GET", "/api/v1/nothing")
    assert status == 404 and "error" in body


def test_drain_keeps_open_connections_and_stops_new_ones(l4lb, workdir, servers):
    proc, listen, sock, bs = start(l4lb, workdir, servers)
    held = connect(listen)
    first = recv_line(held).decode().strip()
    drained = next(b for b in bs if b.name == first)
    other = next(b for b in bs if b.name != first)

    r = ctl("--socket", f"unix://{sock}", "drain", "back", drained.url)
    assert r.returncode == 0, r.stderr
    assert "draining" in r.stdout, r.stdout
    assert proc.wait_log(rf"backend {drained.url}: enabled -> draining \(admin API\)")
    assert names_of(listen, 20) == {other.name: 20}
    # The connection opened before the drain still works both ways.
    held.sendall(b"still here\n")
    assert recv_line(held) == b"still here\n"
    held.close()

    _, pool = curl(sock, "GET", "/api/v1/pools/back")
    shown = {b["name"]: b for b in pool["backends"]}
    assert shown[drained.url]["state"] == "draining"
    assert shown[other.url]["total"] >= 20 and shown[other.url]["active"] == 0, shown

    r = ctl("--socket", f"unix://{sock}", "enable", "back", drained.url)
    assert r.returncode == 0, r.stderr
    assert set(names_of(listen, 20)) == {"b1", "b2"}


def test_disable_pauses_active_checks(l4lb, workdir, servers):
    proc, listen, sock, bs = start(
        l4lb, workdir, servers,
        pool={"health": {"check": "tcp", "interval": "100ms", "timeout": "1s", "rise": 1}})
    assert wait_until(lambda: bs[0].accepted >= 3, 5), "checks never reached b1"
    status, body = curl(sock, "PATCH", f"/api/v1/pools/back/backends/{bs[0].url.replace('/', '%2F')}",
                        '{"state": "disable"}')
    assert status == 200 and body["state"] == "disabled", body
    assert proc.wait_log(rf"backend {bs[0].url}: active checks paused"), proc.describe()
    before = bs[0].accepted
    assert names_of(listen, 10) == {"b2": 10}
    wait_until(lambda: False, 0.6)
    assert bs[0].accepted == before, "b1 was still checked (or picked) while disabled"

    status, body = curl(sock, "PATCH", f"/api/v1/pools/back/backends/{bs[0].url.replace('/', '%2F')}",
                        '{"state": "enable"}')
    assert status == 200, body
    assert proc.wait_log(rf"backend {bs[0].url}: active checks resumed")
    assert wait_until(lambda: bs[0].accepted > before, 5), "checks did not resume"
    # The first check after resuming confirms the state; it is not logged as a change.
    assert proc.wait_log(rf"backend {bs[0].url}: still up \(tcp check"), proc.describe()
    assert wait_until(lambda: "b1" in names_of(listen, 4), 5)


# random-two and least-conn balance on open connections as much as on weights, and sequential
# connections overlap for a moment while l4lb closes each; their weights are unit-tested.
@pytest.mark.parametrize("balance,pool", [("round-robin", None),
                                          ("maglev", {"hash_key": "client-ip-port"})])
def test_weight_change_shifts_shares(l4lb, workdir, servers, balance, pool):
    proc, listen, sock, bs = start(l4lb, workdir, servers, balance=balance, workers=1, pool=pool,
                                   names={0: "one", 1: "two"})
    r = ctl("--socket", f"unix://{sock}", "weight", "back", "one", "3")
    assert r.returncode == 0, r.stderr
    assert proc.wait_log(r"backend one: weight 1 -> 3 \(admin API\)")
    shares = names_of(listen, 300)
    if balance == "round-robin":
        assert abs(shares["b1"] - 225) <= 3, shares
    else:
        assert 180 <= shares["b1"] <= 265, shares
    r = ctl("--socket", f"unix://{sock}", "--json", "pool", "back")
    assert r.returncode == 0, r.stderr
    weights = {b["name"]: b["weight"] for b in json.loads(r.stdout)["backends"]}
    assert weights == {"one": 3, "two": 1}


def test_errors_are_json(l4lb, workdir, servers):
    proc, listen, sock, bs = start(l4lb, workdir, servers, names={0: "one", 1: "two"})
    status, body = curl(sock, "PATCH", "/api/v1/pools/nope/backends/one", '{"state": "drain"}')
    assert status == 404 and "nope" in body["error"], body
    status, body = curl(sock, "PATCH", "/api/v1/pools/back/backends/three", '{"state": "drain"}')
    assert status == 404 and "three" in body["error"], body
    status, body = curl(sock, "PATCH", "/api/v1/pools/back/backends/one", '{"state": ')
    assert status == 400 and "JSON" in body["error"], body
    status, body = curl(sock, "PATCH", "/api/v1/pools/back/backends/one", '{"state": "off"}')
    assert status == 400, body
    status, body = curl(sock, "PATCH", "/api/v1/pools/back/backends/one", '{"weight": 0}')
    assert status == 400, body
    r = ctl("--socket", f"unix://{sock}", "drain", "back", "three")
    assert r.returncode == 1 and "three" in r.stderr, (r.stdout, r.stderr)
    r = ctl("--socket", f"unix://{workdir}/nothing.sock", "pools")
    assert r.returncode == 2, r.stderr


def test_tcp_listener_needs_the_token_for_changes(l4lb, workdir, servers):
    port = free_port()
    token = "s3cret-token-for-tests"
    (workdir / "token").write_text(token + "\n")
    sock = workdir / "admin.sock"
    proc, listen, _, bs = start(
        l4lb, workdir, servers, names={0: "one", 1: "two"},
        admin=f'listen = ["unix://{sock}", "tcp://127.0.0.1:{port}"]\n'
              f'token_file = "{workdir}/token"')
    tcp = f"127.0.0.1:{port}"
    status, body = curl("", "GET", "/api/v1/pools/back", tcp=tcp)
    assert status == 200, body
    status, body = curl("", "PATCH", "/api/v1/pools/back/backends/one", '{"state": "drain"}',
                        tcp=tcp)
    assert status == 401, body
    status, body = curl("", "PATCH", "/api/v1/pools/back/backends/one", '{"state": "drain"}',
                        tcp=tcp, token="wrong-token-wrong-token")
    assert status == 401, body
    status, body = curl("", "PATCH", "/api/v1/pools/back/backends/one", '{"state": "drain"}',
                        tcp=tcp, token=token)
    assert status == 200 and body["state"] == "draining", body
    r = ctl("--socket", f"tcp://{tcp}", "--token-file", str(workdir / "token"), "enable", "back",
            "one")
    assert r.returncode == 0, r.stderr
    # The unix socket needs no token: its file mode is the access control.
    status, body = curl(str(sock), "PATCH", "/api/v1/pools/back/backends/one",
                        '{"state": "drain"}')
    assert status == 200, body


def test_ctl_tables(l4lb, workdir, servers):
    proc, listen, sock, bs = start(l4lb, workdir, servers, names={0: "one", 1: "two"})
    r = ctl("--socket", f"unix://{sock}", "pools")
    assert r.returncode == 0 and "back" in r.stdout and "2/2" in r.stdout, r.stdout
    r = ctl("--socket", f"unix://{sock}", "pool", "back")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[1].split()[:3] == ["NAME", "ADDRESS", "STATE"], r.stdout
    assert lines[2].split()[0] == "one" and lines[2].split()[2] == "up", r.stdout
    r = ctl("--socket", f"unix://{sock}", "status")
    assert r.returncode == 0 and "workers   2" in r.stdout, r.stdout
    r = ctl("--socket", f"unix://{sock}", "listeners")
    assert r.returncode == 0 and listen in r.stdout, r.stdout


def test_quick_mode_admin_socket(l4lb, workdir, servers):
    b1 = servers(tcp_url(free_port()), name="b1")
    listen = tcp_url(free_port())
    sock = workdir / "quick.sock"
    proc = l4lb(args=["--listen", listen, "--backend", b1.url, "--workers", "1",
                      "--admin", f"unix://{sock}"], ready=[listen])
    assert proc.wait_log(r"admin API listening on")
    r = ctl("--socket", f"unix://{sock}", "--json", "pool", "quick")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["backends"][0]["name"] == b1.url


def test_admin_socket_directory_error_is_clear(workdir):
    path = workdir / "c.toml"
    path.write_text(simple_config(tcp_url(free_port()), [tcp_url(free_port())]) +
                    '\n[admin]\nlisten = ["unix:///proc/l4lb-no/admin.sock"]\n')
    r = subprocess.run([L4LB_BIN, "run", "-c", str(path)], capture_output=True, text=True,
                       timeout=20)
    assert r.returncode == 1, r.stderr
    assert "cannot create the directory /proc/l4lb-no" in r.stderr, r.stderr
    assert "listen = []" in r.stderr, r.stderr


def test_drain_applies_to_new_datagram_flows(l4lb, workdir):
    b1, b2 = udp_server(prefix=b"b1:"), udp_server(prefix=b"b2:")
    try:
        port = free_udp_port()
        sock = workdir / "admin.sock"
        text = config_toml(
            [{"name": "dns", "bind": udp_url(port), "pool": "dns"}],
            {"dns": {"backends": [{"address": server_udp_url(b1), "name": "one"},
                                  {"address": server_udp_url(b2), "name": "two"}]}},
            {"workers": 1})
        proc = l4lb(text + f'\n[admin]\nlisten = ["unix://{sock}"]\n', ready=[udp_url(port)])
        assert proc.wait_log(r"admin API listening on")
        # A flow that started before the drain keeps its backend.
        held = udp_client()
        held.sendto(b"x", ("127.0.0.1", port))
        held_backend = held.recvfrom(100)[0].split(b":")[0].decode()
        drained = "one" if held_backend == "b1" else "two"
        status, body = curl(str(sock), "PATCH", f"/api/v1/pools/dns/backends/{drained}",
                            '{"state": "drain"}')
        assert status == 200 and body["state"] == "draining", body
        assert proc.wait_log(rf"backend {drained}: enabled -> draining")
        seen = set()
        for _ in range(10):
            with udp_client() as c:
                c.sendto(b"y", ("127.0.0.1", port))
                seen.add(c.recvfrom(100)[0].split(b":")[0].decode())
        assert seen == ({"b1", "b2"} - {held_backend}), seen
        held.sendto(b"z", ("127.0.0.1", port))
        assert held.recvfrom(100)[0] == f"{held_backend}:z".encode()
        held.close()
    finally:
        b1.stop()
        b2.stop()
