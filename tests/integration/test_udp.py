"""UDP listeners and backends: dig through l4lb to a real unbound, flows (responses, idle
expiry, eviction when the table is full), balancing, failover on ICMP unreachable, sizes."""

from __future__ import annotations

import socket

import pytest

from harness import (config_toml, datagram_totals, dig, dns_query, flow_records,
                     free_udp_port, ipv6_loopback_available, server_udp_url, start_unbound,
                     udp_client, udp_server, udp_url, wait_until)

A = {"a.test.": "192.0.2.1"}


def dns_config(listeners: list[tuple[str, str]], backends: list[str], log=None,
               listener: dict | None = None, balance: str = "round-robin", workers: int = 1,
               retries: int = 2) -> str:
    lst = []
    for name, bind in listeners:
        entry = {"name": name, "bind": bind, "pool": "dns"}
        entry.update(listener or {})
        lst.append(entry)
    g = {"workers": workers}
    if log is not None:
        g["access_log"] = str(log)
    return config_toml(lst, {"dns": {"balance": balance, "retries": retries,
                                     "backends": [{"address": b} for b in backends]}}, g)


def stop_and_totals(proc) -> dict[str, int]:
    proc.stop()
    return datagram_totals(proc.stderr())


def test_dig_through_l4lb_ipv4(l4lb, processes, workdir):
    port = free_udp_port()
    processes.append(start_unbound(workdir, port, A))
    listen = free_udp_port()
    url = udp_url(listen)
    proc = l4lb(dns_config([("dns", url)], [udp_url(port)]), ready=[url])
    for _ in range(3):
        assert dig("127.0.0.1", listen, "a.test") == ["192.0.2.1"]
    totals = stop_and_totals(proc)
    assert totals["replies_sent"] >= 3, totals


@pytest.mark.skipif(not ipv6_loopback_available(), reason="no IPv6 loopback")
def test_dig_through_l4lb_ipv6_both_ways(l4lb, processes, workdir):
    """An IPv6 listener to an IPv6 backend, and an IPv6 listener to an IPv4 backend."""
    port = free_udp_port("::1")
    processes.append(start_unbound(workdir, port, A, hosts=("::1", "127.0.0.1")))
    l6 = free_udp_port("::1")
    url6 = udp_url(l6, "::1")
    proc = l4lb(dns_config([("dns6", url6)], [udp_url(port, "::1"), udp_url(port)]),
                ready=[url6])
    for _ in range(4):  # round-robin: both backends, one v6 and one v4
        assert dig("::1", l6, "a.test") == ["192.0.2.1"]
    totals = stop_and_totals(proc)
    assert totals["replies_sent"] >= 4, totals


def test_responses_one_ends_the_flow_after_one_reply(l4lb, processes, workdir):
    port = free_udp_port()
    processes.append(start_unbound(workdir, port, A))
    listen = free_udp_port()
    url = udp_url(listen)
    log = workdir / "access.log"
    proc = l4lb(dns_config([("dns", url)], [udp_url(port)], log, {"responses": 1}), ready=[url])
    for _ in range(3):
        assert dig("127.0.0.1", listen, "a.test") == ["192.0.2.1"]
    assert wait_until(lambda: len(flow_records(log)) >= 3, 10), log.read_text()
    for record in flow_records(log):
        assert record["end"] == "completed", record
        assert (record["datagrams_in"], record["datagrams_out"]) == (1, 1), record
        assert record["listener"] == "dns" and str(port) in record["backend"]
        assert record["bytes_in"] > 12 and record["bytes_out"] > record["bytes_in"]
    totals = stop_and_totals(proc)
    assert totals["flows_completed"] == 3, totals


def test_flows_expire_after_flow_idle_timeout(l4lb, workdir):
    backend = udp_server(prefix=b"echo:")
    try:
        listen = free_udp_port()
        url = udp_url(listen)
        log = workdir / "access.log"
        proc = l4lb(dns_config([("dns", url)], [server_udp_url(backend)], log,
                               {"flow_idle_timeout": "300ms"}), ready=[url])
        with udp_client() as c:
            for i in range(2):
                c.sendto(b"ping%d" % i, ("127.0.0.1", listen))
                assert c.recvfrom(100)[0] == b"echo:ping%d" % i
            assert wait_until(lambda: len(flow_records(log)) >= 1, 10)
            record = flow_records(log)[0]
            assert record["end"] == "idle-timeout", record
            assert (record["datagrams_in"], record["datagrams_out"]) == (2, 2), record
            # The same client starts a new flow afterwards.
            c.sendto(b"again", ("127.0.0.1", listen))
            assert c.recvfrom(100)[0] == b"echo:again"
        totals = stop_and_totals(proc)
        assert totals["flows_created"] == 2 and totals["flows_idle_timeout"] >= 1, totals
    finally:
        backend.stop()


def test_full_flow_table_evicts_the_oldest_flow(l4lb, workdir):
    backend = udp_server(prefix=b"r:")
    try:
        listen = free_udp_port()
        url = udp_url(listen)
        log = workdir / "access.log"
        proc = l4lb(dns_config([("dns", url)], [server_udp_url(backend)], log,
                               {"max_flows": 2}), ready=[url])
        clients = [udp_client() for _ in range(3)]
        try:
            for i, c in enumerate(clients):
                c.sendto(b"c%d" % i, ("127.0.0.1", listen))
                assert c.recvfrom(100)[0] == b"r:c%d" % i
            assert wait_until(lambda: any(r["end"] == "evicted" for r in flow_records(log)), 10)
            evicted = [r for r in flow_records(log) if r["end"] == "evicted"]
            first_port = clients[0].getsockname()[1]
            assert len(evicted) == 1 and evicted[0]["client"].endswith(f":{first_port}"), evicted
        finally:
            for c in clients:
                c.close()
        totals = stop_and_totals(proc)
        assert totals["flows_evicted"] == 1 and totals["flows_shutdown"] == 2, totals
    finally:
        backend.stop()


def test_round_robin_across_two_unbound_servers(l4lb, processes, workdir):
    p1, p2 = free_udp_port(), free_udp_port()
    processes.append(start_unbound(workdir, p1, {"a.test.": "192.0.2.1"}, name="unbound1"))
    processes.append(start_unbound(workdir, p2, {"a.test.": "192.0.2.2"}, name="unbound2"))
    listen = free_udp_port()
    url = udp_url(listen)
    proc = l4lb(dns_config([("dns", url)], [udp_url(p1), udp_url(p2)], listener={"responses": 1}),
                ready=[url])
    answers = [tuple(dig("127.0.0.1", listen, "a.test")) for _ in range(6)]  # new port each
    assert set(answers) == {("192.0.2.1",), ("192.0.2.2",)}, answers
    assert answers.count(("192.0.2.1",)) == 3, answers
    stop_and_totals(proc)


def test_unreachable_backend_moves_the_flow(l4lb, processes, workdir):
    """A backend port with nothing behind it answers with ICMP port unreachable; the flow moves
    to the next backend and the client's retry is answered."""
    live = free_udp_port()
    processes.append(start_unbound(workdir, live, A))
    dead = free_udp_port()
    listen = free_udp_port()
    url = udp_url(listen)
    proc = l4lb(dns_config([("dns", url)], [udp_url(dead), udp_url(live)], balance="first"),
                ready=[url])
    with udp_client(timeout=0.5) as c:
        answered = False
        for _ in range(10):
            c.sendto(dns_query("a.test"), ("127.0.0.1", listen))
            try:
                reply = c.recvfrom(4096)[0]
            except socket.timeout:
                continue
            answered = reply[:2] == b"\x12\x34" and b"\xc0\x00\x02\x01" in reply
            break
        assert answered, "no answer after the flow should have moved"
    totals = stop_and_totals(proc)
    assert totals["flows_moved"] >= 1 and totals["backend_unreachable"] >= 1, totals


def test_empty_small_and_largest_datagrams(l4lb, workdir):
    backend = udp_server()
    try:
        listen = free_udp_port()
        url = udp_url(listen)
        proc = l4lb(dns_config([("dns", url)], [server_udp_url(backend)]), ready=[url])
        with udp_client() as c:
            c.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
            for size in (0, 1, 1472, 1473, 9000, 65507):
                payload = bytes([size % 251]) * size
                c.sendto(payload, ("127.0.0.1", listen))
                assert c.recvfrom(70000)[0] == payload, size
        totals = stop_and_totals(proc)
        assert totals["dropped_truncated"] == 0, totals
    finally:
        backend.stop()


def test_drain_ends_datagram_listeners(l4lb, workdir):
    backend = udp_server()
    try:
        listen = free_udp_port()
        url = udp_url(listen)
        log = workdir / "access.log"
        proc = l4lb(dns_config([("dns", url)], [server_udp_url(backend)], log, workers=2),
                    ready=[url])
        with udp_client() as c:
            c.sendto(b"x", ("127.0.0.1", listen))
            assert c.recvfrom(100)[0] == b"x"
        assert proc.stop() == 0
        assert [r["end"] for r in flow_records(log)] == ["shutdown"]
    finally:
        backend.stop()


def test_per_source_max_flows(l4lb, workdir):
    """Two flows per client address: a third port of 127.0.0.1 gets no flow (its datagram is
    dropped, counted) while 127.0.0.2 still does. Two workers: the kernel steers an address's
    datagrams to one worker, so its flows are counted together."""
    backend = udp_server(prefix=b"r:")
    try:
        listen = free_udp_port()
        url = udp_url(listen)
        proc = l4lb(dns_config([("dns", url)], [server_udp_url(backend)],
                               listener={"per_source_max_flows": 2}, workers=2), ready=[url])
        clients = [udp_client("127.0.0.1") for _ in range(3)] + [udp_client("127.0.0.2")]
        try:
            for i, c in enumerate(clients[:2]):
                c.sendto(b"c%d" % i, ("127.0.0.1", listen))
                assert c.recvfrom(100)[0] == b"r:c%d" % i
            clients[2].settimeout(0.5)
            clients[2].sendto(b"c2", ("127.0.0.1", listen))
            with pytest.raises(socket.timeout):
                clients[2].recvfrom(100)
            clients[3].sendto(b"c3", ("127.0.0.1", listen))
            assert clients[3].recvfrom(100)[0] == b"r:c3"
        finally:
            for c in clients:
                c.close()
        totals = stop_and_totals(proc)
        assert totals["dropped_source_limit"] == 1 and totals["flows_created"] == 3, totals
    finally:
        backend.stop()


def test_deny_drops_datagrams_from_a_source(l4lb, workdir):
    backend = udp_server(prefix=b"r:")
    try:
        listen = free_udp_port()
        url = udp_url(listen)
        proc = l4lb(dns_config([("dns", url)], [server_udp_url(backend)],
                               listener={"deny": ["127.0.0.2"]}), ready=[url])
        allowed, denied = udp_client("127.0.0.1"), udp_client("127.0.0.2", timeout=0.5)
        try:
            denied.sendto(b"no", ("127.0.0.1", listen))
            with pytest.raises(socket.timeout):
                denied.recvfrom(100)
            allowed.sendto(b"yes", ("127.0.0.1", listen))
            assert allowed.recvfrom(100)[0] == b"r:yes"
        finally:
            allowed.close()
            denied.close()
        totals = stop_and_totals(proc)
        assert totals["dropped_acl"] == 1 and totals["flows_created"] == 1, totals
        assert all(d != b"no" for d in backend.received), backend.received
    finally:
        backend.stop()


def test_send_proxy_v2_prepends_a_dgram_header_to_every_datagram(l4lb, workdir):
    """Each datagram reaches the backend as a PROXY v2 header (PROXY command, AF_INET over
    DGRAM, the client's address and port, the listener's) followed by the datagram itself;
    replies reach the client as sent, with no header."""
    import struct

    backend = udp_server(prefix=b"r:")
    try:
        listen = free_udp_port()
        url = udp_url(listen)
        proc = l4lb(dns_config([("dns", url)], [server_udp_url(backend)]).replace(
            "[pool.dns]", "[pool.dns]\nsend_proxy = \"v2\""), ready=[url])
        client = udp_client("127.0.0.1")
        try:
            for payload in (b"first", b"second"):
                client.sendto(payload, ("127.0.0.1", listen))
                reply = client.recvfrom(200)[0]
                assert reply.startswith(b"r:") and reply.endswith(payload), reply
            client_port = client.getsockname()[1]
        finally:
            client.close()
        assert len(backend.received) == 2, backend.received
        for datagram, payload in zip(backend.received, (b"first", b"second")):
            assert datagram[:12] == b"\r\n\r\n\x00\r\nQUIT\n", datagram
            assert datagram[12] == 0x21 and datagram[13] == 0x12, datagram[:16]  # PROXY, INET/DGRAM
            length = struct.unpack("!H", datagram[14:16])[0]
            src, dst, sport, dport = struct.unpack("!4s4sHH", datagram[16:28])
            assert socket.inet_ntoa(src) == "127.0.0.1" and sport == client_port
            assert socket.inet_ntoa(dst) == "127.0.0.1" and dport == listen
            assert datagram[16 + length:] == payload
        proc.stop()
    finally:
        backend.stop()
