"""A real redis-server behind l4lb: redis-cli and redis-benchmark through TCP and Unix listeners,
and a Unix-socket backend."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest

from harness import free_port, simple_config, start_redis, tcp_url

pytestmark = pytest.mark.skipif(
    not all(shutil.which(t) for t in ("redis-server", "redis-cli", "redis-benchmark")),
    reason="redis-server / redis-tools not installed")


def redis_cli(args: list[str], timeout: float = 20, stdin: str | None = None) -> str:
    """redis-cli ARGS; with `stdin`, -x makes it the command's last argument."""
    argv = ["redis-cli"] + (["-x"] if stdin is not None else []) + args
    r = subprocess.run(argv, capture_output=True, text=True, timeout=timeout, input=stdin)
    assert r.returncode == 0, f"redis-cli {args}: exit {r.returncode}\n{r.stdout}\n{r.stderr}"
    return r.stdout.strip()


@pytest.fixture
def redis(workdir, processes):
    port = free_port()
    sock = str(workdir / "redis.sock")
    processes.append(start_redis(workdir, port, unixsocket=sock))
    return {"url": tcp_url(port), "unix": f"unix://{sock}"}


def test_redis_cli_set_get_through_tcp_listener(l4lb, redis):
    port = free_port()
    l4lb(simple_config(tcp_url(port), [redis["url"]]), ready=[tcp_url(port)])
    tcp = ["-h", "127.0.0.1", "-p", str(port)]
    assert redis_cli(tcp + ["SET", "l4lb:key", "hello world"]) == "OK"
    assert redis_cli(tcp + ["GET", "l4lb:key"]) == "hello world"
    big = "x" * 200_000  # several segments each way
    assert redis_cli(tcp + ["SET", "l4lb:big"], stdin=big) == "OK"
    assert redis_cli(tcp + ["STRLEN", "l4lb:big"]) == "200000"
    assert redis_cli(tcp + ["GET", "l4lb:big"]) == big


@pytest.mark.parametrize("busy_poll_us", [0, 50])
def test_redis_benchmark_through_l4lb(l4lb, redis, busy_poll_us):
    port = free_port()
    l4lb(simple_config(tcp_url(port), [redis["url"]], global_={"busy_poll_us": busy_poll_us}),
         ready=[tcp_url(port)])
    r = subprocess.run(["redis-benchmark", "-h", "127.0.0.1", "-p", str(port), "-n", "20000",
                        "-c", "20", "-t", "set,get", "-q"],
                       capture_output=True, text=True, timeout=120)
    # -q prints progress with \r and one final line per test: "SET: 41152.26 requests per second"
    final = [seg for line in r.stdout.splitlines() for seg in line.split("\r")]
    assert r.returncode == 0, f"{r.stdout}\n{r.stderr}"
    assert "error" not in (r.stdout + r.stderr).lower(), f"{r.stdout}\n{r.stderr}"
    for test in ("SET", "GET"):
        assert any(re.match(rf"{test}: [\d.]+ requests per second", s) for s in final), r.stdout


def test_redis_cli_through_unix_listener(l4lb, redis, workdir):
    path = workdir / "front.sock"
    listen = f"unix://{path}"
    l4lb(simple_config(listen, [redis["url"]]), ready=[listen])
    assert redis_cli(["-s", str(path), "SET", "l4lb:unix", "via unix"]) == "OK"
    assert redis_cli(["-s", str(path), "GET", "l4lb:unix"]) == "via unix"


def test_redis_unix_backend(l4lb, redis):
    port = free_port()
    l4lb(simple_config(tcp_url(port), [redis["unix"]]), ready=[tcp_url(port)])
    tcp = ["-h", "127.0.0.1", "-p", str(port)]
    assert redis_cli(tcp + ["SET", "l4lb:ub", "to unix backend"]) == "OK"
    assert redis_cli(tcp + ["GET", "l4lb:ub"]) == "to unix backend"
