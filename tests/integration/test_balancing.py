"""Balancing algorithms seen from outside, with backends that answer their own name.
One worker wherever the order of picks matters, so the sequence is deterministic."""

from __future__ import annotations

import collections
import time

from harness import ask_name, connect, free_port, recv_line, simple_config, tcp_url, wait_until


def backends(servers, n: int):
    return [servers(tcp_url(free_port()), name=f"b{i + 1}") for i in range(n)]


def start(l4lb, bs, balance, workers=1, weights=None, pool=None):
    listen = tcp_url(free_port())
    entries = [{"address": b.url} if not weights else {"address": b.url, "weight": w}
               for b, w in zip(bs, weights or [None] * len(bs))]
    l4lb(simple_config(listen, entries, balance, global_={"workers": workers}, pool=pool),
         ready=[listen])
    return listen


def test_round_robin_alternates(l4lb, servers):
    bs = backends(servers, 2)
    listen = start(l4lb, bs, "round-robin")
    names = [ask_name(listen) for _ in range(20)]
    assert set(names) == {"b1", "b2"}, names
    assert all(a != b for a, b in zip(names, names[1:])), f"not b1,b2,b1,b2...: {names}"


def test_round_robin_three_backends_cycles(l4lb, servers):
    bs = backends(servers, 3)
    listen = start(l4lb, bs, "round-robin")
    names = [ask_name(listen) for _ in range(30)]
    assert collections.Counter(names) == {"b1": 10, "b2": 10, "b3": 10}, names
    assert names[3:] == names[:-3], f"not a cycle of 3: {names}"


def test_weights_three_to_one(l4lb, servers):
    bs = backends(servers, 2)
    listen = start(l4lb, bs, "round-robin", weights=[3, 1])
    names = [ask_name(listen) for _ in range(40)]
    assert collections.Counter(names) == {"b1": 30, "b2": 10}, collections.Counter(names)


def test_least_conn_prefers_idle_backend(l4lb, servers):
    bs = backends(servers, 2)
    listen = start(l4lb, bs, "least-conn")
    held = []
    try:
        # Each new connection goes where fewer are open: held ones spread 2 and 2.
        for _ in range(4):
            s = connect(listen)
            held.append((s, recv_line(s).decode().strip()))
        counts = collections.Counter(name for _, name in held)
        assert counts == {"b1": 2, "b2": 2}, counts
        # Close both on b1; once b1 has seen them end, new connections all go to b1.
        for s, name in held:
            if name == "b1":
                s.close()
        assert wait_until(lambda: bs[0].active == 0, 10), "b1 connections not closed"
        time.sleep(0.5)  # let l4lb finish its side of those two connections
        for _ in range(2):
            s = connect(listen)
            name = recv_line(s).decode().strip()
            held.append((s, name))
            assert name == "b1", "least-conn picked the busier backend"
    finally:
        for s, _ in held:
            s.close()


def test_first_always_picks_first(l4lb, servers):
    bs = backends(servers, 3)
    listen = start(l4lb, bs, "first")
    names = [ask_name(listen) for _ in range(10)]
    assert names == ["b1"] * 10, names


def test_maglev_same_client_ip_same_backend(l4lb, servers):
    bs = backends(servers, 3)
    listen = start(l4lb, bs, "maglev", workers=2, pool={"hash_key": "client-ip"})
    names = [ask_name(listen) for _ in range(30)]  # all from 127.0.0.1, many source ports
    assert len(set(names)) == 1, f"one client IP went to several backends: {names}"


def test_random_two_spreads(l4lb, servers):
    bs = backends(servers, 3)
    listen = start(l4lb, bs, "random-two", workers=2)
    names = [ask_name(listen) for _ in range(60)]
    assert set(names) <= {"b1", "b2", "b3"}
    assert len(set(names)) >= 2, f"60 connections all on one backend: {names}"
