"""The proxies under test, started the same way for each scenario: l4lb (through the
integration suite's fixture), and for the side-by-side table Debian's HAProxy and nginx (stream
module) in TCP mode with the same backends, retries and timeouts."""

from __future__ import annotations

import shutil
from pathlib import Path

from config_gen import simple_config
from net import can_connect, free_port, wait_until
from procs import Process

NGINX_STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so"


def l4lb_config(listen_port: int, backends: list, pool: dict | None = None,
                listener: dict | None = None, global_: dict | None = None,
                health: bool = True) -> str:
    p = {"connect_timeout": "1s", "retries": 2}
    if health:
        p["health"] = {"check": "tcp", "interval": "300ms", "timeout": "300ms", "rise": 1,
                       "fall": 2}
    p.update(pool or {})
    return simple_config(f"tcp://127.0.0.1:{listen_port}", [b.url for b in backends],
                         pool=p, listener={"idle_timeout": "60s", **(listener or {})},
                         global_={"access_log": "off", **(global_ or {})})


def haproxy_available() -> bool:
    return shutil.which("haproxy") is not None


def nginx_available() -> bool:
    return shutil.which("nginx") is not None and Path(NGINX_STREAM_MODULE).exists()


def start_haproxy(workdir: Path, listen_port: int, backends: list, name: str = "haproxy",
                  maxconn: int = 9000) -> Process:
    """HAProxy in TCP mode, round robin, health checks and retries like l4lb_config's. maxconn
    9000: HAProxy wants 2 descriptors a connection and refuses to start above the hard limit
    (20,000 here)."""
    d = workdir / name
    d.mkdir()
    servers = "\n".join(f"  server {b.name} {b.address} check inter 300ms rise 1 fall 2"
                        for b in backends)
    conf = d / "haproxy.cfg"
    conf.write_text(f"""
global
  maxconn {maxconn}
defaults
  mode tcp
  timeout connect 1s
  timeout client 60s
  timeout server 60s
  retries 2
  option redispatch
frontend front
  bind 127.0.0.1:{listen_port}
  default_backend back
backend back
  balance roundrobin
{servers}
""")
    proc = Process(["haproxy", "-db", "-f", str(conf)], workdir, name)
    if not wait_until(lambda: can_connect(f"tcp://127.0.0.1:{listen_port}"), 10):
        proc.stop()
        raise AssertionError("haproxy did not start:\n" + proc.log())
    return proc


def start_nginx(workdir: Path, listen_port: int, backends: list, name: str = "nginx") -> Process:
    """nginx's stream proxy, round robin, passive health (max_fails) and next-upstream."""
    d = workdir / name
    d.mkdir()
    servers = "\n".join(f"    server {b.address} max_fails=2 fail_timeout=5s;" for b in backends)
    conf = d / "nginx.conf"
    conf.write_text(f"""
load_module {NGINX_STREAM_MODULE};
worker_processes 2;
daemon off;
pid {d}/nginx.pid;
error_log {d}/error.log;
worker_rlimit_nofile 20000;
events {{ worker_connections 9000; }}
stream {{
  upstream back {{
{servers}
  }}
  server {{
    listen 127.0.0.1:{listen_port};
    proxy_pass back;
    proxy_connect_timeout 1s;
    proxy_timeout 60s;
    proxy_next_upstream on;
    proxy_next_upstream_tries 3;
    proxy_half_close on;
  }}
}}
""")
    proc = Process(["nginx", "-e", str(d / "error.log"), "-p", str(d), "-c", str(conf)], workdir,
                   name)
    if not wait_until(lambda: can_connect(f"tcp://127.0.0.1:{listen_port}"), 10):
        proc.stop(sig=3)
        raise AssertionError("nginx did not start:\n" + proc.log() +
                             (d / "error.log").read_text(errors="replace"))
    return proc


SUBJECTS = ["l4lb", "haproxy", "nginx"]


def available(subject: str) -> bool:
    return {"l4lb": True, "haproxy": haproxy_available(), "nginx": nginx_available()}[subject]


def start(subject: str, l4lb, workdir: Path, backends: list, **l4lb_kwargs):
    """(the proxy's process, its listening port); l4lb waits until its backends are up."""
    port = free_port()
    if subject == "l4lb":
        proc = l4lb(l4lb_config(port, backends, **l4lb_kwargs),
                    ready=[f"tcp://127.0.0.1:{port}"])
        if l4lb_kwargs.get("health", True):
            assert wait_until(lambda: proc.stderr().count(": unknown -> up") >= len(backends),
                              15), proc.describe()
        return proc, port
    if subject == "haproxy":
        return start_haproxy(workdir, port, backends), port
    return start_nginx(workdir, port, backends), port
