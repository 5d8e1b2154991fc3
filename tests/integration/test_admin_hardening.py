"""The admin API under attack (issue 20, README.md "Admin API", "What the API trusts"): slow
clients and floods cannot lock it out or take l4lb's descriptors, a page of another origin (DNS
rebinding) cannot read or change it, secret files others may read are warned of (refused with
strict_secrets), a backend echoing the password does not put it in the log or the API, and
Authorization is taken only as one well-formed header."""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import threading
import time

from harness import (L4LB_BIN, free_port, simple_config, tcp_url, wait_until)
from health import wait_state

IO_TIMEOUT = 10
TOKEN = "s3cret-token-for-tests"
# admin_http_server.h: kAdminThreads, kMaxAdminConnections, kAdminRequestDeadline.
ADMIN_THREADS = 4
MAX_ADMIN_CONNECTIONS = 32
REQUEST_DEADLINE = 10
# "Answers within the request deadline": a request queued behind slow clients waits at most for
# theirs to run out; this bound only stops a hung test.
ANSWER_BOUND = 3 * REQUEST_DEADLINE


def start(l4lb, workdir, servers, admin_host="127.0.0.1", extra_admin="", global_=None):
    backend = servers(tcp_url(free_port()), name="b1")
    listen = tcp_url(free_port())
    port = free_port()
    token = workdir / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o600)
    sock = workdir / "admin.sock"
    text = simple_config(listen, [{"address": backend.url, "name": "one"}],
                         global_=global_ or {"workers": 1})
    text += (f'\n[admin]\nlisten = ["unix://{sock}", "tcp://{admin_host}:{port}"]\n'
             f'token_file = "{token}"\n{extra_admin}')
    proc = l4lb(text, ready=[listen])
    assert proc.wait_log(r"admin API listening on tcp://"), proc.describe()
    return proc, f"127.0.0.1:{port}", str(sock)


def curl(target: str, path: str, method: str = "GET", headers: list[str] | None = None,
         body: str | None = None, max_time: float = IO_TIMEOUT,
         unix: str | None = None) -> tuple[int, str, str]:
    """(status, response headers, body) of one request with curl."""
    argv = ["curl", "-sS", "-D", "-", "--max-time", str(max_time), "-X", method]
    if unix:
        argv += ["--unix-socket", unix]
    for h in headers or []:
        argv += ["-H", h]
    if body is not None:
        argv += ["-H", "Content-Type: application/json", "--data-binary", body]
    out = subprocess.run(argv + [f"http://{target}{path}"], capture_output=True, text=True,
                         timeout=max_time + 5)
    assert out.returncode == 0, out.stderr
    head, _, text = out.stdout.partition("\n\n")  # text mode: CRLF read as LF
    return int(head.split()[1]), head.lower(), text


def raw_request(target: str, request: bytes) -> tuple[int, bytes]:
    """(status, whole response) of bytes sent as they are on one connection."""
    host, port = target.rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=IO_TIMEOUT) as s:
        s.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = s.recv(4096)
            if not chunk:
                break
            data += chunk
    assert data.startswith(b"HTTP/1.1 "), data
    return int(data.split()[1]), data


class SlowClient(threading.Thread):
    """Sends a request line, then one header line a second, never the blank line; notes whether
    l4lb ended the connection (answered or closed) before `lines` lines."""

    def __init__(self, target: str, lines: int = 2 * ANSWER_BOUND):
        super().__init__(daemon=True)
        self.target = target
        self.lines = lines
        self.cut = False
        self.error: Exception | None = None

    def run(self) -> None:
        host, port = self.target.rsplit(":", 1)
        try:
            with socket.create_connection((host, int(port)), timeout=IO_TIMEOUT) as s:
                s.sendall(f"GET /api/v1/status HTTP/1.1\r\nHost: {self.target}\r\n".encode())
                for i in range(self.lines):
                    readable, _, _ = select.select([s], [], [], 1.0)
                    if readable:
                        self.cut = True  # an answer (408/400) or the end: either way, cut
                        return
                    s.sendall(f"X-Slow-{i}: x\r\n".encode())
        except (ConnectionError, BrokenPipeError):
            self.cut = True
        except Exception as e:  # noqa: BLE001 - kept for the assert
            self.error = e


def test_slow_clients_do_not_lock_out_the_api(l4lb, workdir, servers):
    proc, target, sock = start(l4lb, workdir, servers)
    slow = [SlowClient(target) for _ in range(2 * ADMIN_THREADS)]
    for c in slow:
        c.start()
    time.sleep(2)  # every slow client connected and trickling
    for _ in range(3):
        status, _, body = curl(target, "/api/v1/status", max_time=ANSWER_BOUND)
        assert status == 200, body
        # The unix socket has threads of its own, which no TCP client can take.
        status, _, body = curl("l4lb", "/api/v1/status", unix=sock)
        assert status == 200 and json.loads(body)["pid"] == proc.pid, body
    for c in slow:
        c.join(timeout=2 * ANSWER_BOUND + 10)
        assert not c.is_alive() and c.error is None, c.error
        assert c.cut, "a slow client kept its connection past the request deadline"


def fd_count(pid: int) -> int:
    return len(os.listdir(f"/proc/{pid}/fd"))


def test_connection_flood_is_capped(l4lb, workdir, servers):
    proc, target, sock = start(l4lb, workdir, servers)
    baseline = fd_count(proc.pid)
    host, port = target.rsplit(":", 1)
    held: list[socket.socket] = []
    most = baseline
    try:
        for _ in range(300):
            try:
                held.append(socket.create_connection((host, int(port)), timeout=2))
            except OSError:
                pass  # a full backlog: the flood is refused either way
            if len(held) % 20 == 0:
                most = max(most, fd_count(proc.pid))
        for _ in range(20):
            most = max(most, fd_count(proc.pid))
            time.sleep(0.05)
        # Connections past the cap were answered 503 and closed at once.
        refused = 0
        for s in held:
            s.settimeout(0.2)
            try:
                data = s.recv(4096)
            except (socket.timeout, ConnectionError):
                continue
            if not data or data.startswith(b"HTTP/1.1 503"):
                refused += 1
        assert refused >= len(held) - MAX_ADMIN_CONNECTIONS - 5, (refused, len(held))
        # The operator's door stays open meanwhile.
        status, _, body = curl("l4lb", "/api/v1/status", unix=sock)
        assert status == 200, body
    finally:
        for s in held:
            s.close()
    # listening socket and an accept in flight aside, at most the cap more than before
    assert most <= baseline + MAX_ADMIN_CONNECTIONS + 4, (baseline, most)
    assert wait_until(lambda: curl(target, "/api/v1/status", max_time=ANSWER_BOUND)[0] == 200,
                      ANSWER_BOUND, 0.5)


def test_rebinding_page_cannot_read_or_change(l4lb, workdir, servers):
    proc, target, sock = start(l4lb, workdir, servers)
    port = target.rsplit(":", 1)[1]
    # What a browser sends after rebinding its name to 127.0.0.1.
    browser = [f"Host: rebind.example:{port}", f"Origin: http://rebind.example:{port}",
               "User-Agent: Mozilla/5.0", "Accept: */*", "Sec-Fetch-Mode: cors"]
    for path in ("/api/v1/pools", "/api/v1/status", "/metrics"):
        status, head, body = curl(target, path, headers=browser)
        assert status == 421, (path, body)
        assert "access-control-" not in head, head
        assert "pools" not in body and str(proc.pid) not in body, body
    # localhost and the listener's address are this listener's names.
    assert curl(target, "/api/v1/status", headers=[f"Host: localhost:{port}"])[0] == 200
    status, head, _ = curl(target, "/api/v1/pools")
    assert status == 200 and "access-control-" not in head, head
    # A page of another origin (a form post, a fetch) may not change anything, token or not.
    change = '{"state": "drain"}'
    auth = f"Authorization: Bearer {TOKEN}"
    status, _, body = curl(target, "/api/v1/pools/back/backends/one", "PATCH",
                           [auth, "Origin: http://evil.example"], change)
    assert status == 403, body
    status, _, body = curl(target, "/api/v1/pools/back/backends/one", "PATCH",
                           [auth, "Origin: null"], change)
    assert status == 403, body
    status, _, body = curl(target, "/api/v1/pools/back/backends/one", "PATCH",
                           [auth, f"Origin: http://127.0.0.1:{port}"], change)
    assert status == 200 and json.loads(body)["state"] == "draining", body
    # A CORS preflight gets no CORS headers.
    status, head, _ = curl(target, "/api/v1/pools/back/backends/one", "OPTIONS",
                           ["Origin: http://evil.example",
                            "Access-Control-Request-Method: PATCH"])
    assert "access-control-" not in head, head


def test_listener_off_loopback_needs_the_token_to_read(l4lb, workdir, servers):
    proc, target, _ = start(l4lb, workdir, servers, admin_host="0.0.0.0")
    status, head, body = curl(target, "/api/v1/pools")
    assert status == 401 and "www-authenticate: bearer" in head, body
    status, _, body = curl(target, "/metrics")
    assert status == 401, body
    status, _, body = curl(target, "/api/v1/pools", headers=[f"Authorization: Bearer {TOKEN}"])
    assert status == 200 and json.loads(body)["pools"], body
    assert "is not a loopback address" in proc.stderr(), proc.describe()


def check(path) -> subprocess.CompletedProcess:
    return subprocess.run([L4LB_BIN, "check", "-c", str(path)], capture_output=True, text=True,
                          timeout=20)


def test_check_warns_of_secret_files_and_admin_off_loopback(workdir):
    token = workdir / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o644)
    password = workdir / "redis.pass"
    password.write_text("SuperSecretPw\n")
    password.chmod(0o640)
    listen = tcp_url(free_port())
    admin = (f'\n[admin]\nlisten = ["tcp://0.0.0.0:{free_port()}"]\n'
             f'token_file = "{token}"\n')
    path = workdir / "l4lb.toml"

    def write(strict: bool) -> None:
        path.write_text(simple_config(
            listen, [{"address": tcp_url(free_port()), "name": "r"}],
            global_={"strict_secrets": strict},
            pool={"health": {"check": "redis", "password_file": str(password)}}) + admin)

    write(False)
    r = check(path)
    assert r.returncode == 0, r.stderr
    assert "warning:" in r.stderr and "admin.token_file" in r.stderr, r.stderr
    assert "0644" in r.stderr and "0640" in r.stderr, r.stderr
    assert "is not a loopback address" in r.stderr, r.stderr
    # strict_secrets refuses what was a warning.
    write(True)
    r = check(path)
    assert r.returncode == 1, r.stderr
    assert "strict_secrets" in r.stderr and "password_file" in r.stderr, r.stderr
    token.chmod(0o600)
    password.chmod(0o600)
    r = check(path)
    assert r.returncode == 0, r.stderr
    assert "admin.token_file" not in r.stderr and "password_file" not in r.stderr, r.stderr


def test_run_warns_of_a_readable_token_file(l4lb, workdir, servers):
    token = workdir / "token"
    token.write_text(TOKEN + "\n")
    token.chmod(0o644)
    backend = servers(tcp_url(free_port()), name="b1")
    listen = tcp_url(free_port())
    text = simple_config(listen, [backend.url])
    text += (f'\n[admin]\nlisten = ["tcp://127.0.0.1:{free_port()}"]\n'
             f'token_file = "{token}"\n')
    proc = l4lb(text, ready=[listen])
    assert proc.wait_log(r"config: .*admin\.token_file: .*0644"), proc.describe()


def echo_auth_handler(conn: socket.socket, server) -> None:
    """A redis-like server that reflects its input: every command is refused with its own
    arguments quoted back (what the issue saw a server do with AUTH)."""
    data = b""
    while True:
        chunk = conn.recv(4096)
        if not chunk:
            return
        data += chunk
        # RESP arrays: *N\r\n then $len\r\narg\r\n pairs; answer once a whole command is in.
        lines = data.split(b"\r\n")
        if not lines[0].startswith(b"*"):
            return
        count = int(lines[0][1:])
        if len(lines) < 1 + 2 * count + 1:
            continue
        args = [lines[2 + 2 * i] for i in range(count)]
        data = b"\r\n".join(lines[1 + 2 * count:])
        conn.sendall(b"-ERR invalid password for user default: " + b" ".join(args) + b"\r\n")


def test_backend_echoing_the_password_is_redacted(l4lb, workdir, servers):
    for secret in ("SuperSecretPw", "SuperSecretPw-long-enough-to-be-cut-" + "x" * 60):
        backend = servers(tcp_url(free_port()), handler=echo_auth_handler, name="echo")
        password = workdir / "redis.pass"
        password.write_text(secret + "\n")
        password.chmod(0o600)
        sock = workdir / f"admin-{len(secret)}.sock"
        listen = tcp_url(free_port())
        text = simple_config(listen, [{"address": backend.url, "name": "r"}],
                             pool={"health": {"check": "redis", "password_file": str(password),
                                              "interval": "200ms", "rise": 1, "fall": 1}})
        text += f'\n[admin]\nlisten = ["unix://{sock}"]\n'
        proc = l4lb(text, ready=[listen])
        assert wait_state(proc, "r", "down", 10) is not None, proc.describe()
        status, _, body = curl("l4lb", "/api/v1/pools/back", unix=str(sock))
        assert status == 200, body
        shown = json.loads(body)["backends"][0]
        reason = shown["last_check"]["reason"]
        assert "<redacted>" in reason, reason
        log = proc.stderr()
        for leaked in (secret, secret[:8]):
            assert leaked not in log, log
            assert leaked not in body, body
        proc.stop()


def test_authorization_is_one_well_formed_header(l4lb, workdir, servers):
    proc, target, _ = start(l4lb, workdir, servers)
    body = b'{"state": "drain"}'

    def patch(auth_lines: bytes) -> int:
        request = (b"PATCH /api/v1/pools/back/backends/one HTTP/1.1\r\nHost: " +
                   target.encode() + b"\r\n" + auth_lines +
                   b"Content-Type: application/json\r\nContent-Length: " +
                   str(len(body)).encode() + b"\r\nConnection: close\r\n\r\n" + body)
        return raw_request(target, request)[0]

    good = b"Authorization: Bearer " + TOKEN.encode()
    assert patch(good + b"\x00\r\n") == 400
    assert patch(good + b" \r\n") == 400
    assert patch(good + b"\r\nAuthorization: Bearer wrong-token-wrong\r\n") == 400
    assert patch(b"Authorization: Bearer wrong-token-wrong\r\n" + good + b"\r\n") == 400
    assert patch(b"Authorization: Bearer wrong-token-wrong\r\n") == 401
    assert patch(good + b"\r\n") == 200
