"""A bind refused for lack of permission says what it takes (issue 15, defect 12 in part): a
port below 1024 needs root or the capability; a socket in a directory l4lb may not write needs
another path, or no admin API."""

from __future__ import annotations

import os
import subprocess

import pytest

from harness import L4LB_BIN, free_port, simple_config, tcp_url

pytestmark = pytest.mark.skipif(os.geteuid() != 0, reason="runs l4lb as user nobody: needs root")


def privileged_port_start() -> int:
    with open("/proc/sys/net/ipv4/ip_unprivileged_port_start") as f:
        return int(f.read())


def run_as_nobody(workdir, config_text: str) -> subprocess.CompletedProcess:
    workdir.chmod(0o755)
    config = workdir / "l4lb.toml"
    config.write_text(config_text)
    config.chmod(0o644)
    return subprocess.run(["runuser", "-u", "nobody", "--", L4LB_BIN, "run", "-c", str(config)],
                          stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=30)


@pytest.mark.parametrize("scheme", ["tcp", "udp"])
def test_privileged_port_as_non_root_names_the_capability(workdir, scheme):
    if privileged_port_start() < 1000:
        pytest.skip("net.ipv4.ip_unprivileged_port_start is lowered here: no port is privileged")
    backend = f"{scheme}://127.0.0.1:{free_port()}"
    result = run_as_nobody(workdir, simple_config(f"{scheme}://127.0.0.1:999", [backend]) +
                           f'\n[admin]\nlisten = ["unix://{workdir}/admin.sock"]\n')
    assert result.returncode == 1, result.stderr
    assert "bind: Permission denied" in result.stderr, result.stderr
    assert "binding a port below 1024 needs root or CAP_NET_BIND_SERVICE" in result.stderr
    assert f"setcap cap_net_bind_service=+ep {os.path.realpath(L4LB_BIN)}" in result.stderr
    assert "AmbientCapabilities" in result.stderr


def test_admin_socket_in_a_root_only_directory_says_how_to_run_without_it(workdir):
    root_only = workdir / "run-l4lb"
    root_only.mkdir(mode=0o755)  # root's, as /run/l4lb is: nobody may not create a file there
    result = run_as_nobody(workdir, simple_config(tcp_url(free_port()), [tcp_url(free_port())]) +
                           f'\n[admin]\nlisten = ["unix://{root_only}/admin.sock"]\n')
    assert result.returncode == 1, result.stderr
    assert f"uid 65534 may not create a socket in {root_only}" in result.stderr, result.stderr
    assert "--admin unix:///tmp/l4lb-admin.sock" in result.stderr, result.stderr
    assert "[admin] listen = [] to run without it" in result.stderr, result.stderr


def test_listener_socket_in_a_root_only_directory_names_the_directory(workdir):
    root_only = workdir / "run-app"
    root_only.mkdir(mode=0o755)
    result = run_as_nobody(workdir,
                           simple_config(f"unix://{root_only}/front.sock", [tcp_url(free_port())]) +
                           '\n[admin]\nlisten = []\n')
    assert result.returncode == 1, result.stderr
    assert f"uid 65534 may not create a socket in {root_only}" in result.stderr, result.stderr
