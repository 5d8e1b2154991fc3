"""Backends discovered from a real etcd (issue 16, "Discovery"), started by the test: a key put
under the prefix is a backend (its value a URL, or JSON with address, weight and name), a key
deleted is a backend that drains, a weight change applies; a compaction while l4lb's watch is
cut is caught up by listing again; etcd stopped keeps every backend (logged), and once etcd is
back the keys put meanwhile arrive."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
from pathlib import Path

import pytest

from harness import (IO_TIMEOUT, Process, api, ask_name, config_toml, free_port, pool_backends,
                     tcp_url, wait_pool_backends, wait_until)

pytestmark = pytest.mark.skipif(not (shutil.which("etcd") and shutil.which("etcdctl")),
                                reason="no etcd (Debian: etcd-server, etcd-client)")

PREFIX = "/services/app/"
LABEL = "etcd:" + PREFIX
# fall 3: a check slowed by a loaded machine does not take a backend down mid-test (the first
# result, from unknown, decides at once).
CHECK = {"check": "tcp", "interval": "200ms", "timeout": "1s", "rise": 1, "fall": 3}
FAST = {"interval": "1s", "min_interval": "200ms", "settle": "300ms", "timeout": "1s"}


class Etcd:
    """A one-member etcd on loopback, its data in the test's directory."""

    def __init__(self, workdir: Path, processes: list):
        self.workdir = workdir
        self.processes = processes
        self.client = free_port()
        self.peer = free_port()
        self.url = f"http://127.0.0.1:{self.client}"
        self.proc: Process | None = None
        self.start()

    def start(self) -> None:
        peer = f"http://127.0.0.1:{self.peer}"
        self.proc = Process(["etcd", "--name", "t", "--data-dir", str(self.workdir / "etcd"),
                             "--listen-client-urls", self.url, "--advertise-client-urls", self.url,
                             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                             "--initial-cluster", f"t={peer}"], self.workdir, "etcd")
        self.processes.append(self.proc)
        assert wait_until(lambda: self.proc.proc.poll() is not None or self._healthy(), 30, 0.2), \
            self.proc.log()
        assert self.proc.proc.poll() is None, self.proc.log()

    def _healthy(self) -> bool:
        r = self.ctl("endpoint", "health", check=False)
        return r.returncode == 0

    def stop(self) -> None:
        self.proc.stop()

    def ctl(self, *args: str, check: bool = True) -> subprocess.CompletedProcess:
        r = subprocess.run(["etcdctl", "--endpoints", self.url, "--dial-timeout", "2s", *args],
                           capture_output=True, text=True, timeout=IO_TIMEOUT,
                           env={**os.environ, "ETCDCTL_API": "3"})
        if check:
            assert r.returncode == 0, (args, r.stdout, r.stderr)
        return r

    def put(self, key: str, value: str) -> None:
        self.ctl("put", PREFIX + key, value)

    def delete(self, key: str) -> None:
        self.ctl("del", PREFIX + key)

    def revision(self) -> int:
        out = self.ctl("get", PREFIX, "--prefix", "-w", "json").stdout
        return int(json.loads(out)["header"]["revision"])


class Relay:
    """A TCP relay in front of etcd that the test can cut (every connection closed, nothing
    accepted) and restore, so l4lb's watch breaks while etcd goes on."""

    def __init__(self, target_port: int):
        self.port = free_port()
        self.target = target_port
        self.url = f"http://127.0.0.1:{self.port}"
        self._conns: list[socket.socket] = []
        self._lock = threading.Lock()
        self._listener: socket.socket | None = None
        self.restore()

    def restore(self) -> None:
        s = socket.socket()
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        s.bind(("127.0.0.1", self.port))
        s.listen(16)
        s.settimeout(0.2)
        self._listener = s
        threading.Thread(target=self._accept, args=(s,), daemon=True).start()

    def cut(self) -> None:
        listener, self._listener = self._listener, None
        listener.close()
        with self._lock:
            for c in self._conns:
                try:
                    c.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                c.close()
            self._conns.clear()

    def _accept(self, listener: socket.socket) -> None:
        while self._listener is listener:
            try:
                client, _ = listener.accept()
            except socket.timeout:
                continue
            except OSError:
                return
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target), timeout=2)
            except OSError:
                client.close()
                continue
            with self._lock:
                self._conns += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        src.settimeout(None)
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                dst.sendall(data)
        except OSError:
            pass
        for s in (src, dst):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def etcd_config(listen: str, etcd_url: str, discover: dict | None = None) -> str:
    p = {"balance": "round-robin", "retries": 2, "connect_timeout": "1s", "health": CHECK,
         "discover": {"etcd": etcd_url, "prefix": PREFIX, **FAST, **(discover or {})}}
    return config_toml([{"name": "front", "bind": listen, "pool": "back"}], {"back": p},
                       {"workers": 1})


def test_put_delete_and_weight(l4lb, workdir, processes, servers):
    etcd = Etcd(workdir, processes)
    urls = {n: tcp_url(free_port()) for n in ("a", "b")}
    for n, url in urls.items():
        servers(url, name=n)
    etcd.put("a", urls["a"])
    listen = tcp_url(free_port())
    proc = l4lb(etcd_config(listen, etcd.url), ready=[listen])
    found = wait_pool_backends(proc, {urls["a"]})
    assert found[urls["a"]]["source"] == LABEL
    # The store revision the set reflects: instances at the same revision hold the same set.
    assert wait_until(lambda: api(proc, "/pools/back")["discovery"]["revision"] ==
                      etcd.revision(), 10), api(proc, "/pools/back")
    etcd.put("b", json.dumps({"address": urls["b"], "weight": 3, "name": "bee"}))
    found = wait_pool_backends(proc, set(urls.values()))
    assert (found[urls["b"]]["name"], found[urls["b"]]["weight"]) == ("bee", 3)
    assert wait_until(lambda: all(b["state"] == "up" for b in pool_backends(proc).values()), 10)
    seen = [ask_name(listen) for _ in range(8)]
    assert (seen.count("a"), seen.count("b")) == (2, 6), seen
    etcd.put("b", json.dumps({"address": urls["b"], "weight": 1, "name": "bee"}))
    assert wait_until(lambda: pool_backends(proc)[urls["b"]]["weight"] == 1, 20), \
        pool_backends(proc)
    etcd.delete("a")
    wait_pool_backends(proc, {urls["b"]})
    assert proc.wait_log(r"discovery: pool back: etcd:/services/app/ now gives 1 backend"), \
        proc.describe()
    # A value that is no backend is left out and said once, and changes nothing else.
    etcd.put("junk", "not a url")
    assert proc.wait_log(r"key /services/app/junk: left out"), proc.describe()
    assert set(pool_backends(proc)) == {urls["b"]}


def test_compaction_while_the_watch_is_cut(l4lb, workdir, processes, servers):
    etcd = Etcd(workdir, processes)
    relay = Relay(etcd.client)
    urls = {n: tcp_url(free_port()) for n in ("a", "b", "c")}
    for n, url in urls.items():
        servers(url, name=n)
    etcd.put("a", urls["a"])
    etcd.put("b", urls["b"])
    listen = tcp_url(free_port())
    proc = l4lb(etcd_config(listen, relay.url), ready=[listen])
    wait_pool_backends(proc, {urls["a"], urls["b"]})
    relay.cut()
    assert proc.wait_log(r"discovery: pool back: error: .*keeping the 2 backends"), proc.describe()
    etcd.put("c", urls["c"])
    etcd.delete("a")
    etcd.ctl("compact", str(etcd.revision()))  # the revisions l4lb missed are gone
    relay.restore()
    wait_pool_backends(proc, {urls["b"], urls["c"]})
    # The watch asked again from the revision after the last it saw, which is compacted: etcd
    # said so, and l4lb listed the prefix again.
    assert proc.wait_log(r"etcd:/services/app/: revision \d+ compacted \(now \d+\): listing "
                         r"again"), proc.describe()


def test_etcd_stopped_keeps_backends_and_restarted_catches_up(l4lb, workdir, processes, servers):
    etcd = Etcd(workdir, processes)
    urls = {n: tcp_url(free_port()) for n in ("a", "b")}
    for n, url in urls.items():
        servers(url, name=n)
    etcd.put("a", urls["a"])
    listen = tcp_url(free_port())
    proc = l4lb(etcd_config(listen, etcd.url), ready=[listen])
    wait_pool_backends(proc, {urls["a"]})
    etcd.stop()
    assert proc.wait_log(r"discovery: pool back: error: .*keeping the 1 backend found before", 15), \
        proc.describe()
    assert set(pool_backends(proc)) == {urls["a"]}
    assert ask_name(listen) == "a"
    etcd.start()
    etcd.put("b", urls["b"])
    wait_pool_backends(proc, set(urls.values()), timeout=30)


def test_empty_prefix_is_held(l4lb, workdir, processes, servers):
    etcd = Etcd(workdir, processes)
    url = tcp_url(free_port())
    servers(url, name="a")
    etcd.put("a", url)
    listen = tcp_url(free_port())
    proc = l4lb(etcd_config(listen, etcd.url), ready=[listen])
    wait_pool_backends(proc, {url})
    etcd.delete("a")
    assert proc.wait_log(r"held: .*empty answer held, not applied"), proc.describe()
    assert set(pool_backends(proc)) == {url}
