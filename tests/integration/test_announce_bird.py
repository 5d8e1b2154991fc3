"""The shipped BIRD 2 config (packaging/bird/l4lb.conf) with a real BIRD beside l4lb, peering by
BGP (with BFD) with a real BIRD on a router: the VIP l4lb announces becomes a route in the
router's kernel table, and leaves it after `kill -9` of l4lb (the kernel deletes l4lb's TUN
interface, BIRD's direct protocol loses the address, BGP withdraws it), while the session stays up.

Two namespaces the test makes and removes: `rtr` and `lb`, joined by a veth pair
(203.0.113.1/30 and .2/30); the VIP 198.51.100.10 is on lb's lo. Not the multi-instance ECMP
test (test_scale_out.py): one instance, one router."""

from __future__ import annotations

import signal
import time

import pytest
from bird_configs import Bird, bird_available, lb_bird_config, router_bird_config
from harness import config_toml, wait_until
from routed_hosts import Hosts, namespaces_available

pytestmark = pytest.mark.skipif(
    not namespaces_available() or not bird_available(),
    reason="needs root, `ip` and BIRD 2 (package bird2)")

VIP = "198.51.100.10"
VIPS4 = "[ 198.51.100.0/24{32,32} ]"
ROUTER_ADDRESS = "203.0.113.1"
LB_ADDRESS = "203.0.113.2"
ROUTER_AS = 65000
LB_AS = 65101


def test_the_vip_is_routed_at_the_router_while_announced_and_withdrawn_after_kill_9(
        l4lb, workdir):
    with Hosts("rtr", "lb") as hosts:
        hosts.link("rtr", [f"{ROUTER_ADDRESS}/30"], "lb", [f"{LB_ADDRESS}/30"])
        hosts.run("lb", ["ip", "addr", "add", f"{VIP}/32", "dev", "lo"])
        router = Bird("rtr", router_bird_config(
            ROUTER_ADDRESS, ROUTER_AS, {"lb1": (ROUTER_ADDRESS, LB_ADDRESS, LB_AS)}, VIPS4),
            workdir, hosts.wrap("rtr", []))
        lb = Bird("lb", lb_bird_config(LB_ADDRESS, LB_AS, ROUTER_ADDRESS, ROUTER_AS, VIPS4),
                  workdir, hosts.wrap("lb", []))
        try:
            announced_and_withdrawn(l4lb, workdir, hosts, router, lb)
        finally:
            lb.stop()
            router.stop()


def router_route(hosts: Hosts) -> str:
    return hosts.run("rtr", ["ip", "route", "show", f"{VIP}/32"], check=False).stdout.strip()


def announced_and_withdrawn(l4lb, workdir, hosts: Hosts, router: Bird, lb: Bird) -> None:
    path = workdir / "announce.toml"
    path.write_text(config_toml(
        [{"name": "front", "bind": f"tcp://{VIP}:8080", "pool": "back", "announce": True}],
        {"back": {"backends": [{"address": "tcp://127.0.0.1:9"}]}},
        {"announce_interface": "l4vip0"}) + f'\n[admin]\nlisten = ["unix://{workdir}/a.sock"]\n')
    proc = l4lb(args=["-c", str(path)], wrapper=hosts.wrap("lb", []))
    proc.wait_ready([f"tcp://{VIP}:8080"])

    # BGP comes up (a few seconds: connect delay, open, keepalives), then the route.
    assert wait_until(lambda: f"via {LB_ADDRESS}" in router_route(hosts), 60), (
        router_route(hosts), router.birdc("show", "protocols", "all"),
        lb.birdc("show", "route", "all"), proc.describe())
    assert "proto bird" in router_route(hosts)

    proc.send_signal(signal.SIGKILL)
    killed = time.monotonic()
    assert proc.wait(10) is not None
    assert wait_until(lambda: router_route(hosts) == "", 15, interval=0.01), router_route(hosts)
    elapsed = time.monotonic() - killed
    print(f"\nroute left the router {elapsed * 1000:.0f} ms after kill -9 of l4lb")
    # Withdrawn by an update: the session itself stayed up (BIRD and the host are alive).
    assert "Established" in lb.birdc("show", "protocols", "uplink")
