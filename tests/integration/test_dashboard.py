"""The dashboard (README.md, "Dashboard"): the page at "/" of a tcp:// admin listener, in a real
headless browser (Debian's chromium driven by playwright-core through tests/browser/bridge.mjs),
while connections flow through l4lb to real backends: names and moving numbers, a backend that
stops, drain and weight from the page (refused without the right token), a reload and a binary
upgrade, phone and laptop sizes, light and dark, and no request leaving the admin origin.

Without chromium or the npm install (scripts/test.sh does both) the browser test is skipped with
the reason, except in CI, where it fails."""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

from harness import (REPO, api, ask_name, connect, free_port, free_udp_port, recv_line,
                     server_udp_url, simple_config, tcp_url, udp_client, udp_server, udp_url)

IO_TIMEOUT = 10
BROWSER_DIR = REPO / "tests" / "browser"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
TOKEN = "dashboard-test-token-0123456789"
# Health checks every 200 ms, down after 2 failures: "within the health interval" is bounded
# generously below (the page polls every second).
CHECK = {"check": "tcp", "interval": "200ms", "timeout": "300ms", "rise": 2, "fall": 2}
STATE_TIMEOUT = 20


def start_l4lb(l4lb, workdir, servers, udp_backend=None):
    backends = [servers(tcp_url(free_port()), name=f"web-{i}") for i in (1, 2, 3)]
    listen = tcp_url(free_port())
    port = free_port()
    (workdir / "token").write_text(TOKEN + "\n")
    sock = workdir / "admin.sock"
    text = simple_config(listen, [{"address": b.url, "name": b.name} for b in backends],
                         global_={"workers": 2}, pool={"health": CHECK})
    text = text.replace('pool = "back"', 'pool = "web"').replace("[pool.back]", "[pool.web]")
    if udp_backend is not None:
        text += (f'\n[[listener]]\nname = "dns"\nbind = "{udp_url(free_udp_port())}"\n'
                 f'pool = "dns"\n\n[pool.dns]\nbackends = [ {{ address = '
                 f'"{server_udp_url(udp_backend)}", name = "dns-1" }} ]\n')
    text += (f'\n[admin]\nlisten = ["unix://{sock}", "tcp://127.0.0.1:{port}"]\n'
             f'token_file = "{workdir}/token"\n')
    proc = l4lb(text, ready=[listen])
    assert proc.wait_log(r"admin API listening on tcp://"), proc.describe()
    return proc, listen, f"127.0.0.1:{port}", str(sock), backends


def get(origin: str, path: str, headers: dict[str, str] | None = None):
    """(status, headers as a dict of lowercase names, body) of GET http://origin/path, via curl."""
    argv = ["curl", "-sS", "--max-time", str(IO_TIMEOUT), "-D", "-"]
    for name, value in (headers or {}).items():
        argv += ["-H", f"{name}: {value}"]
    out = subprocess.run(argv + [f"http://{origin}{path}"], capture_output=True,
                         timeout=IO_TIMEOUT + 5)
    assert out.returncode == 0, out.stderr
    head, _, body = out.stdout.partition(b"\r\n\r\n")
    lines = head.decode().split("\r\n")
    status = int(lines[0].split()[1])
    found = {}
    for line in lines[1:]:
        name, _, value = line.partition(":")
        found[name.strip().lower()] = value.strip()
    return status, found, body


def test_page_and_files_are_served_with_a_strict_policy(l4lb, workdir, servers):
    echo = udp_server()
    try:
        check_page_and_answer(l4lb, workdir, servers, echo)
    finally:
        echo.stop()


def check_page_and_answer(l4lb, workdir, servers, echo):
    proc, listen, admin, sock, _ = start_l4lb(l4lb, workdir, servers, udp_backend=echo)
    status, headers, body = get(admin, "/", {"Origin": "http://evil.example"})
    assert status == 200 and headers["content-type"].startswith("text/html"), headers
    assert b'src="/dashboard/dashboard.js"' in body
    csp = headers["content-security-policy"]
    assert "default-src 'none'" in csp and "script-src 'self'" in csp, csp
    assert "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp, csp
    assert "unsafe-inline" not in csp
    assert headers["x-content-type-options"] == "nosniff"
    assert "access-control-allow-origin" not in headers, headers
    # No inline script or style to allow: everything is a file of this origin.
    assert b"<script>" not in body and b"<style" not in body and b"style=" not in body
    for path, kind in (("/dashboard/dashboard.js", "text/javascript"),
                       ("/dashboard/dashboard.css", "text/css"),
                       ("/dashboard/icon.svg", "image/svg+xml")):
        status, headers, body = get(admin, path)
        assert status == 200 and headers["content-type"].startswith(kind) and body, (path, headers)
        assert headers["x-content-type-options"] == "nosniff"
    status, headers, _ = get(admin, "/dashboard/nothing.js")
    assert status == 404 and "content-security-policy" in headers
    # The unix socket serves the same page.
    out = subprocess.run(["curl", "-sS", "--max-time", str(IO_TIMEOUT), "--unix-socket", sock,
                          "http://l4lb/"], capture_output=True, timeout=IO_TIMEOUT + 5)
    assert out.returncode == 0 and b"dashboard.js" in out.stdout

    assert ask_name(listen) in {"web-1", "web-2", "web-3"}
    status, headers, body = get(admin, "/api/v1/dashboard")
    assert status == 200 and headers["content-type"].startswith("application/json")
    data = json.loads(body)
    assert data["pid"] == proc.pid and data["config_generation"] == 1 and data["workers"] == 2
    assert data["changes_need_token"] is True
    assert [l["name"] for l in data["listeners"]] == ["front", "dns"]
    assert data["listeners"][0]["accepted"] >= 1
    assert set(data["listeners"][0]["refused"]) >= {"acl", "source-rate"}
    # A datagram listener: its pool's flows stand for it (the counters are per worker).
    dns = data["listeners"][1]
    with udp_client() as client:
        client.sendto(b"ping", sockaddr(dns["bind"]))
        assert client.recv(100).endswith(b"ping")
    status, headers, body = get(admin, "/api/v1/dashboard")
    data = json.loads(body)
    dns = data["listeners"][1]
    assert dns["kind"] == "datagram" and dns["accepted"] == 1 and dns["active"] == 1, dns
    assert data["pools"][1]["kind"] == "datagram" and data["datagrams"]["flows_active"] == 1
    pool = data["pools"][0]
    assert pool["name"] == "web" and [b["name"] for b in pool["backends"]] == [
        "web-1", "web-2", "web-3"]
    for b in pool["backends"]:
        assert {"shown", "weight", "effective_weight", "active", "total", "bytes_in",
                "bytes_out", "last_check", "connect_failures", "ejections"} <= set(b), b
    assert sum(b["total"] for b in pool["backends"]) >= 1
    # Over the unix socket no token is needed, and the page is told so.
    out = subprocess.run(["curl", "-sS", "--max-time", str(IO_TIMEOUT), "--unix-socket", sock,
                          "http://l4lb/api/v1/dashboard"], capture_output=True, text=True,
                         timeout=IO_TIMEOUT + 5)
    assert json.loads(out.stdout)["changes_need_token"] is False
    # The same figures the API has: ejections too.
    assert "ejections" in api(sock, "/pools/web")["backends"][0]


def sockaddr(url: str) -> tuple[str, int]:
    host, _, port = url.split("://")[1].rpartition(":")
    return host, int(port)


class Traffic:
    """Connections through l4lb until stopped: a few held open (the "active" figures), and a
    stream of short ones asking each backend's name (the rates). Bounded in count and time."""

    def __init__(self, listen: str, held: int = 4, limit: int = 20000, seconds: float = 120):
        self.listen = listen
        self.stop_event = threading.Event()
        self.done = 0
        self.held = []
        for _ in range(held):
            s = connect(listen)
            recv_line(s)
            self.held.append(s)
        self.thread = threading.Thread(target=self._run, args=(limit, seconds), daemon=True)
        self.thread.start()

    def _run(self, limit: int, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while not self.stop_event.is_set() and self.done < limit and time.monotonic() < deadline:
            try:
                with connect(self.listen, timeout=2) as s:
                    recv_line(s)
                    s.sendall(b"x" * 2048)
                    s.recv(4096)
            except OSError:
                pass  # a backend stopped mid-test: the next connection goes elsewhere
            self.done += 1
            time.sleep(0.02)

    def stop(self) -> None:
        self.stop_event.set()
        self.thread.join(10)
        for s in self.held:
            s.close()


class Browser:
    """tests/browser/bridge.mjs: one JSON command a line, one answer a line, each bounded."""

    def __init__(self):
        self.proc = subprocess.Popen(["node", str(BROWSER_DIR / "bridge.mjs")], cwd=BROWSER_DIR,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True,
                                     env={**os.environ, "CHROMIUM": CHROMIUM})

    def __call__(self, cmd: str, timeout: float = 30, **args):
        """The answer's value; fails the test on an error, or no answer within `timeout`."""
        self.proc.stdin.write(json.dumps({"cmd": cmd, **args}) + "\n")
        self.proc.stdin.flush()
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        assert ready, f"the browser did not answer {cmd} within {timeout}s"
        line = self.proc.stdout.readline()
        assert line, "the browser bridge exited: " + self.proc.stderr.read()
        answer = json.loads(line)
        assert answer["ok"], f"{cmd} {args}: {answer['error']}"
        return answer["value"]

    def wait(self, js: str, timeout: float = STATE_TIMEOUT):
        """The value of `js` once it is truthy, polled in the page for up to `timeout`."""
        return self("wait", timeout=timeout + 15, js=js, timeout_ms=int(timeout * 1000))

    def close(self) -> None:
        if self.proc.poll() is None:
            try:
                self.proc.stdin.write(json.dumps({"cmd": "close"}) + "\n")
                self.proc.stdin.flush()
                self.proc.wait(10)
            except (OSError, subprocess.TimeoutExpired):
                self.proc.kill()
                self.proc.wait(10)


def browser_or_skip() -> Browser:
    missing = []
    if not os.access(CHROMIUM, os.X_OK):
        missing.append(f"{CHROMIUM} (Debian's chromium)")
    if shutil.which("node") is None:
        missing.append("node")
    if not (BROWSER_DIR / "node_modules" / "playwright-core").is_dir():
        missing.append("playwright-core (npm ci --prefix tests/browser)")
    if missing:
        why = "the browser test needs " + ", ".join(missing) + ": scripts/test.sh installs them"
        if os.environ.get("CI"):
            pytest.fail(why, pytrace=False)
        pytest.skip(why)
    return Browser()


def row(backend: str) -> str:
    return f'document.querySelector(`tr[data-backend="{backend}"]`)'


def badge(backend: str) -> str:
    return f'{row(backend)}?.querySelector(".badge")'


def test_dashboard_in_a_browser(l4lb, workdir, servers):
    browser = browser_or_skip()
    shots = Path(os.environ.get("L4LB_SCREENSHOTS", workdir))
    traffic = None
    try:
        proc, listen, admin, sock, backends = start_l4lb(l4lb, workdir, servers)
        origin = f"http://{admin}"
        traffic = Traffic(listen)
        browser("open", timeout=60, url=origin + "/", width=1280, height=800)

        # Names appear, and live numbers change between two reads.
        browser.wait(f"""() => document.querySelector('tr[data-listener="front"]') &&
                              document.querySelector('article[data-pool="web"]') &&
                              {row("web-1")} && {row("web-2")} && {row("web-3")}""")
        first = browser("eval", js="""() => document.querySelector(
            'tr[data-listener="front"]').cells[6].textContent""")
        browser.wait(f"""() => document.querySelector('tr[data-listener="front"]')
                                .cells[6].textContent !== {json.dumps(first)}""")
        browser.wait(f"() => /[0-9]/.test({row('web-1')}.querySelector('.b-cps').textContent)")
        assert browser("eval", js="() => document.getElementById('p-pid').textContent") == str(
            proc.pid)
        browser.wait(f"() => {badge('web-1')}.textContent === 'up'")

        # A stopped backend turns down, word and colour, within the health interval (bounded).
        backends[2].stop()
        browser.wait(f"() => {badge('web-3')}.textContent === 'down'")
        colours = browser("eval", js=f"""() => [getComputedStyle({badge('web-3')}).backgroundColor,
            getComputedStyle({badge('web-1')}).backgroundColor]""")
        assert colours[0] != colours[1] and colours[0].startswith("rgb(198, 40, 40"), colours

        # Without the token the buttons say why they are disabled.
        drain = f'tr[data-backend="web-2"] button[data-action="drain"]'
        why = browser("eval", js=f"""() => {{ const b = document.querySelector('{drain}');
            return [b.disabled, b.title, document.getElementById('token-note').textContent]; }}""")
        assert why[0] is True and "token" in why[1] and "token" in why[2], why
        # The same PATCH from the page without a token is refused by the listener itself.
        status = browser("eval", js="""async () => (await fetch(
            '/api/v1/pools/web/backends/web-2', {method: 'PATCH',
             headers: {'Content-Type': 'application/json'},
             body: JSON.stringify({state: 'drain'})})).status""")
        assert status == 401
        # A wrong token: the click is sent and refused, and the page says so.
        browser("fill", selector="#token-input", value="not-the-token")
        browser("click", selector="#token-use")
        browser("click", selector=drain)
        refused = browser.wait("""() => { const r = document.getElementById('action-result');
            return r.dataset.ok === 'false' && r.textContent; }""")
        assert "refused" in refused and "401" in refused, refused
        assert api(sock, "/pools/web")["backends"][1]["state"] == "up"
        # The right token: drain shows in the page and in the API.
        browser("click", selector="#token-forget")
        browser("fill", selector="#token-input", value=TOKEN)
        browser("click", selector="#token-use")
        browser("click", selector=drain)
        done = browser.wait("""() => { const r = document.getElementById('action-result');
            return r.dataset.ok === 'true' && r.textContent; }""")
        assert "draining" in done, done
        browser.wait(f"() => {badge('web-2')}.textContent === 'drain'")
        assert api(sock, "/pools/web")["backends"][1]["state"] == "draining"
        # The token stays in this tab's sessionStorage (and, below, never went into a URL).
        assert browser("eval", js="() => sessionStorage.getItem('l4lb-admin-token')") == TOKEN
        # A weight, from the page, as ctl sets it.
        browser("fill", selector='tr[data-backend="web-1"] .weight-set input', value="7")
        browser("click", selector='tr[data-backend="web-1"] button[data-action="weight"]')
        browser.wait("""() => document.getElementById('action-result').textContent
                               .includes('weight 7')""")
        assert api(sock, "/pools/web")["backends"][0]["weight"] == 7

        # A reload: the page carries on, showing the next generation, numbers still moving.
        proc.send_signal(signal.SIGHUP)
        browser.wait("() => document.getElementById('p-generation').textContent === '2'")
        before = browser("eval", js="""() => document.querySelector(
            'tr[data-listener="front"]').cells[6].textContent""")
        browser.wait(f"""() => document.querySelector('tr[data-listener="front"]')
                                .cells[6].textContent !== {json.dumps(before)} &&
                              document.getElementById('link').dataset.state === 'live'""")
        browser.wait(f"() => {badge('web-2')}.textContent === 'drain'")

        # A binary upgrade: a new process takes everything over (the admin listener too); the
        # page reconnects, shows the new pid, and the numbers move on.
        config = proc.args[proc.args.index("-c") + 1]
        new = l4lb(args=["-c", config, "--upgrade-from", f"unix://{sock}"])
        assert new.wait_log(r"upgrade from pid \d+ done", 30), new.describe()
        assert proc.wait(30) == 0, proc.describe()
        browser.wait(f"() => document.getElementById('p-pid').textContent === '{new.pid}' && "
                     "document.getElementById('link').dataset.state === 'live'")
        before = browser("eval", js="""() => document.querySelector(
            'tr[data-listener="front"]').cells[6].textContent""")
        browser.wait(f"""() => document.querySelector('tr[data-listener="front"]')
                                .cells[6].textContent !== {json.dumps(before)}""")
        # The operator's drain came over with it.
        browser.wait(f"() => {badge('web-2')}.textContent === 'drain'")
        sock_api = api(sock, "/status")
        assert sock_api["pid"] == new.pid

        # Screenshots under load: a laptop and a phone.
        browser("screenshot", path=str(shots / "dashboard-1280x800.png"))
        browser("viewport", width=390, height=844)
        # The phone layout: nothing wider than the window (wide tables scroll in their box).
        browser.wait("() => matchMedia('(max-width: 700px)').matches")
        wider = browser("eval", js="""() => [...document.querySelectorAll('body *')]
            .filter((e) => !e.closest('.scroll') && e.getBoundingClientRect().right > 391)
            .map((e) => e.tagName + '.' + e.className + ' ' + e.getBoundingClientRect().right)""")
        assert wider == [], wider
        browser("screenshot", path=str(shots / "dashboard-390x844.png"))
        assert (shots / "dashboard-1280x800.png").stat().st_size > 10000
        assert (shots / "dashboard-390x844.png").stat().st_size > 10000

        # Dark, as the system's setting asks: another background, the same states.
        light = browser("eval", js="() => getComputedStyle(document.documentElement).backgroundColor")
        browser("open", timeout=60, url=origin + "/", width=1280, height=800, scheme="dark")
        browser.wait(f"() => {badge('web-2')}?.textContent === 'drain'")
        dark = browser("eval", js="() => getComputedStyle(document.documentElement).backgroundColor")
        assert dark != light, (light, dark)
        browser("screenshot", path=str(shots / "dashboard-dark-1280x800.png"))

        # Every request the page made stayed on the admin listener's origin.
        urls = browser("requests")
        assert urls and all(u.startswith(origin + "/") for u in urls), urls
        assert not any(TOKEN in u for u in urls)
        assert any(u.endswith("/api/v1/dashboard") for u in urls)
        # No script error and no policy violation. Failed loads are expected: the 401s above,
        # and the moment of the upgrade when no process listened (the page said "reconnecting").
        problems = [p for p in browser("problems") if "Failed to load resource" not in p]
        assert problems == [], problems
    finally:
        if traffic:
            traffic.stop()
        browser.close()
