"""proxy_protocol = "accept" on a udp:// listener: each datagram from a trusted sender starts
with a PROXY v2 DGRAM header, which l4lb takes off; the address in it is the flow's client
(balancing, allow/deny, logs, send_proxy), and replies go back to the sender with no header.

No peer proxy sends PROXY over UDP, so a Python socket plays the proxy in front; behind l4lb
are a real unbound (which must see plain DNS) and a Python backend that reports l4lb's own
header."""

from __future__ import annotations

import socket
import struct

from harness import (dns_query, free_udp_port, server_udp_url, start_unbound, udp_client,
                     udp_server, udp_url)
from test_udp import dns_config, stop_and_totals

SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def v2_dgram(client: tuple[str, int], destination: tuple[str, int], tlvs: bytes = b"") -> bytes:
    addresses = struct.pack("!4s4sHH", socket.inet_aton(client[0]),
                            socket.inet_aton(destination[0]), client[1], destination[1])
    body = addresses + tlvs
    return SIGNATURE + bytes([0x21, 0x12]) + struct.pack("!H", len(body)) + body


def accepting(url: str, backends: list[str], **listener) -> str:
    return dns_config([("dns", url)], backends,
                      listener={"proxy_protocol": "accept", "proxy_trusted": ["127.0.0.1/32"],
                                **listener})


def test_unbound_answers_the_datagram_behind_the_header(l4lb, processes, workdir):
    port = free_udp_port()
    processes.append(start_unbound(workdir, port, {"a.test.": "192.0.2.1"}))
    listen = free_udp_port()
    url = udp_url(listen)
    proc = l4lb(accepting(url, [udp_url(port)]), ready=[url])
    proxy = udp_client("127.0.0.1", timeout=5)
    try:
        query = dns_query("a.test.", qid=0x5151)
        proxy.sendto(v2_dgram(("198.51.100.7", 5353), ("203.0.113.1", 53)) + query,
                     ("127.0.0.1", listen))
        reply, sender = proxy.recvfrom(4096)
    finally:
        proxy.close()
    assert sender == ("127.0.0.1", listen)
    assert reply[:2] == b"\x51\x51" and reply[3] & 0x0F == 0, reply[:4]  # NOERROR, no header
    assert socket.inet_aton("192.0.2.1") in reply
    totals = stop_and_totals(proc)
    assert totals["flows_created"] == 1 and totals["replies_sent"] == 1, totals


def test_header_client_is_the_flow_and_is_passed_on(l4lb):
    backend = udp_server(prefix=b"r:")
    try:
        listen = free_udp_port()
        url = udp_url(listen)
        proc = l4lb(accepting(url, [server_udp_url(backend)]).replace(
            "[pool.dns]", "[pool.dns]\nsend_proxy = \"v2\""), ready=[url])
        proxy = udp_client("127.0.0.1", timeout=5)
        unique_id = b"\x05\x00\x04abcd"  # a PP2_TYPE_UNIQUE_ID TLV
        try:
            # Two clients behind one proxy: two flows, each reply back to the proxy.
            for client, payload in ((("198.51.100.7", 5353), b"one"),
                                    (("198.51.100.8", 4444), b"two"),
                                    (("198.51.100.7", 5353), b"three")):
                proxy.sendto(v2_dgram(client, ("203.0.113.1", 53), unique_id) + payload,
                             ("127.0.0.1", listen))
                reply = proxy.recvfrom(4096)[0]
                assert reply == b"r:" + backend.received[-1], reply
        finally:
            proxy.close()
        seen = []
        for datagram in backend.received:
            assert datagram[:12] == SIGNATURE and datagram[13] == 0x12, datagram[:16]
            (length,) = struct.unpack("!H", datagram[14:16])
            src, dst, sport, dport = struct.unpack("!4s4sHH", datagram[16:28])
            seen.append((socket.inet_ntoa(src), sport, socket.inet_ntoa(dst), dport,
                         datagram[28:16 + length], datagram[16 + length:]))
        assert seen == [("198.51.100.7", 5353, "203.0.113.1", 53, unique_id, b"one"),
                        ("198.51.100.8", 4444, "203.0.113.1", 53, unique_id, b"two"),
                        ("198.51.100.7", 5353, "203.0.113.1", 53, unique_id, b"three")]
        totals = stop_and_totals(proc)
        assert totals["flows_created"] == 2, totals
    finally:
        backend.stop()


def test_what_is_not_a_trusted_v2_header_is_dropped_and_counted(l4lb):
    backend = udp_server(prefix=b"r:")
    try:
        listen = free_udp_port()
        url = udp_url(listen)
        proc = l4lb(accepting(url, [server_udp_url(backend)], deny=["198.51.100.66/32"]),
                    ready=[url])
        header = v2_dgram(("198.51.100.7", 5353), ("203.0.113.1", 53))
        untrusted = udp_client("127.0.0.2")
        proxy = udp_client("127.0.0.1", timeout=5)
        try:
            untrusted.sendto(header + b"from 127.0.0.2", ("127.0.0.1", listen))
            proxy.sendto(b"no header at all", ("127.0.0.1", listen))
            proxy.sendto(b"PROXY UDP4 198.51.100.7 203.0.113.1 5353 53\r\nv1", ("127.0.0.1", listen))
            proxy.sendto(v2_dgram(("198.51.100.66", 1), ("203.0.113.1", 53)) + b"denied",
                         ("127.0.0.1", listen))
            # A good one after them all still goes through.
            proxy.sendto(header + b"good", ("127.0.0.1", listen))
            assert proxy.recvfrom(4096)[0] == b"r:good"
        finally:
            untrusted.close()
            proxy.close()
        assert backend.received == [b"good"]
        totals = stop_and_totals(proc)
        assert totals["dropped_proxy_untrusted"] == 1, totals
        assert totals["dropped_bad_proxy_header"] == 2, totals
        assert totals["dropped_acl"] == 1, totals
    finally:
        backend.stop()
