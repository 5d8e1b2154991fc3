"""The redis check with AUTH: the password comes from password_file and never reaches the log,
a wrong one is down with the server's answer as the reason."""

from __future__ import annotations

import shutil
import subprocess

import pytest

from harness import Process, free_port, simple_config, tcp_url, wait_tcp_listening
from health import wait_state

pytestmark = pytest.mark.skipif(not shutil.which("redis-server"), reason="no redis-server")

PASSWORD = "s3cret-l4lb-pass"


@pytest.fixture
def redis_with_password(workdir, processes):
    port = free_port()
    p = Process(["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                 "--appendonly", "no", "--requirepass", PASSWORD, "--dir", str(workdir)],
                workdir, "redis-auth")
    processes.append(p)
    wait_tcp_listening(port)
    return port


@pytest.mark.parametrize("password,state", [(PASSWORD, "up"), ("wrong-l4lb-pass", "down"),
                                            (None, "down")])
def test_redis_auth_from_password_file(l4lb, workdir, redis_with_password, password, state):
    health = {"check": "redis", "interval": "200ms", "rise": 1, "fall": 1}
    if password is not None:
        path = workdir / "redis.pass"
        path.write_text(password + "\n")
        health["password_file"] = str(path)
    listen = tcp_url(free_port())
    proc = l4lb(simple_config(listen, [{"address": tcp_url(redis_with_password),
                                        "name": "r"}], pool={"health": health}),
                ready=[listen])
    assert wait_state(proc, "r", state, 10) is not None, proc.describe()
    log = proc.stderr()
    assert PASSWORD not in log and "wrong-l4lb-pass" not in log
    if state == "up":
        r = subprocess.run(["redis-cli", "-p", listen.rsplit(":", 1)[1], "-a", PASSWORD,
                            "--no-auth-warning", "ping"], capture_output=True, text=True,
                           timeout=10)
        assert r.stdout.strip() == "PONG", r.stdout + r.stderr
    elif password is None:
        assert "NOAUTH" in log, log
    else:
        assert "WRONGPASS" in log or "invalid" in log, log
