"""IPv6 on ::1: listener and backend, and v4 <-> v6 across the proxy."""

from __future__ import annotations

import pytest

from harness import (ask_name, connect, free_port, ipv6_loopback_available, recv_line,
                     simple_config, tcp_url)

pytestmark = pytest.mark.skipif(not ipv6_loopback_available(),
                                reason="::1 is not configured here (cannot bind to [::1]:0)")


def test_ipv6_listener_to_ipv6_backend(l4lb, servers):
    backend = servers(tcp_url(free_port("::1"), "::1"), name="v6")
    listen = tcp_url(free_port("::1"), "::1")
    assert listen.startswith("tcp://[::1]:")
    l4lb(simple_config(listen, [backend.url]), ready=[listen])
    with connect(listen) as s:
        assert recv_line(s) == b"v6\n"
        s.sendall(b"over ipv6\n")
        assert recv_line(s) == b"over ipv6\n"


def test_ipv4_listener_to_ipv6_backend_and_back(l4lb, servers):
    v6 = servers(tcp_url(free_port("::1"), "::1"), name="v6")
    v4 = servers(tcp_url(free_port()), name="v4")
    listen4 = tcp_url(free_port())
    listen6 = tcp_url(free_port("::1"), "::1")
    l4lb(simple_config(listen4, [v6.url]), ready=[listen4])
    l4lb(simple_config(listen6, [v4.url]), ready=[listen6])
    assert ask_name(listen4) == "v6"
    assert ask_name(listen6) == "v4"
