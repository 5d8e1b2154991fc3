"""Command line: --version, --help, `check` on valid and invalid configs, `run` refusing a bad
config, and the quick mode (--listen/--backend) without a file."""

from __future__ import annotations

import re
import socket

import pytest

import harness
from harness import free_port, run_l4lb, tcp_url


def base_lines(listen_port: int, backend_port: int) -> list[str]:
    # Line numbers matter: the invalid cases below replace or append lines and expect errors
    # at known lines. Line N of the file is element N-1.
    return [
        "[global]",                                                    # 1
        "workers = 1",                                                 # 2
        'log_level = "info"',                                          # 3
        "",                                                            # 4
        "[[listener]]",                                                # 5
        'name = "front"',                                              # 6
        f'bind = "tcp://127.0.0.1:{listen_port}"',                     # 7
        'pool = "back"',                                               # 8
        "",                                                            # 9
        "[pool.back]",                                                 # 10
        'balance = "round-robin"',                                     # 11
        f'backends = [ {{ address = "tcp://127.0.0.1:{backend_port}" }} ]',  # 12
    ]


def write(workdir, lines: list[str], name: str = "l4lb.toml") -> str:
    path = workdir / name
    path.write_text("\n".join(lines) + "\n")
    return str(path)


def parse_errors(stderr: str, path: str) -> list[tuple[int, int, str, str]]:
    """(line, column, key, message) for each `file:line:column: key: message` line."""
    rx = re.compile(rf"^{re.escape(path)}:(\d+):(\d+): ([^:]*): (.*)$", re.MULTILINE)
    return [(int(m[1]), int(m[2]), m[3], m[4]) for m in rx.finditer(stderr)]


def test_version():
    r = run_l4lb(["--version"])
    assert r.returncode == 0, r.stderr
    assert re.search(r"\d+\.\d+", r.stdout), f"no version number in {r.stdout!r}"


def test_version_names_the_commit_and_build():
    r = run_l4lb(["--version"])
    assert r.returncode == 0, r.stderr
    assert re.search(r"commit ([0-9a-f]{7,}(-dirty)?|unknown), \S+ build", r.stdout), r.stdout


@pytest.mark.parametrize("args", [
    ["--no-such-option"],
    ["run", "--no-such-option"],
    ["check"],                       # -c is required
    ["ctl", "--no-such-option", "status"],
    ["no-such-command"],
    [],                              # a command is required
])
def test_usage_errors_exit_2_as_documented(args):
    r = run_l4lb(args)
    assert r.returncode == 2, (args, r.returncode, r.stderr)
    assert r.stderr.strip(), "a usage error says what was wrong"


def test_help_says_every_endpoint_kind():
    r = run_l4lb(["--help"])
    assert r.returncode == 0, r.stderr
    for kind in ("tcp://", "udp://", "unix://", "unixgram://", "mq://"):
        assert kind in r.stdout, (kind, r.stdout)


def test_help_lists_commands():
    r = run_l4lb(["--help"])
    assert r.returncode == 0, r.stderr
    assert "run" in r.stdout and "check" in r.stdout, r.stdout


def test_check_valid_config(workdir):
    path = write(workdir, base_lines(free_port(), free_port()))
    r = run_l4lb(["check", "-c", path])
    assert r.returncode == 0, r.stderr
    assert f"configuration file {path} is valid" in r.stdout


def test_check_full_example_config_is_valid(workdir):
    sock = workdir / "x.sock"
    text = f"""
[global]
workers = 2
log_level = "info"
access_log = "stderr"
shutdown_grace = "30s"

[[listener]]
name = "redis"
bind = "tcp://127.0.0.1:{free_port()}"
pool = "redis"
idle_timeout = "10m"
backlog = 4096

[[listener]]
name = "local"
bind = "unix://{workdir}/l.sock"
pool = "redis"

[pool.redis]
balance = "maglev"
hash_key = "client-ip"
connect_timeout = "2s"
retries = 2
backends = [ {{ address = "tcp://127.0.0.1:{free_port()}", weight = 2 }},
             {{ address = "unix://{sock}" }} ]
"""
    path = workdir / "full.toml"
    path.write_text(text)
    r = run_l4lb(["check", "-c", str(path)])
    assert r.returncode == 0, r.stderr
    assert "is valid" in r.stdout


# Each case: (id, edit of the base lines, lines where the error may be reported, key fragment).
def _unknown_key(lines):
    lines[2] = 'log_levle = "info"'
    return lines


def _wrong_type(lines):
    lines[1] = 'workers = "two"'
    return lines


def _unknown_pool(lines):
    lines[7] = 'pool = "nope"'
    return lines


def _duplicate_bind(lines):
    return lines + ["", "[[listener]]", 'name = "second"', lines[6], 'pool = "back"']  # 14-17


def _bad_backend_address(lines):
    lines[11] = 'backends = [ { address = "tcp://127.0.0.1:notaport" } ]'
    return lines


def _bad_bind_scheme(lines):
    lines[6] = 'bind = "bogus://127.0.0.1:80"'
    return lines


def _bad_balance(lines):
    lines[10] = 'balance = "round-robbin"'
    return lines


def _bare_number_duration(lines):
    lines.insert(8, "idle_timeout = 30")  # line 9
    return lines


INVALID_CASES = [
    ("unknown-key", _unknown_key, {3}, "log_levle"),
    ("wrong-type", _wrong_type, {2}, "workers"),
    ("unknown-pool", _unknown_pool, {8}, "pool"),
    ("duplicate-bind", _duplicate_bind, {7, 16}, "bind"),
    ("bad-backend-address", _bad_backend_address, {12}, "address"),
    ("bad-bind-scheme", _bad_bind_scheme, {7}, "bind"),
    ("bad-balance", _bad_balance, {11}, "balance"),
    ("bare-number-duration", _bare_number_duration, {9}, "idle_timeout"),
]


@pytest.mark.parametrize("edit,lines_ok,key", [c[1:] for c in INVALID_CASES],
                         ids=[c[0] for c in INVALID_CASES])
def test_check_invalid_config_reports_file_line_key(workdir, edit, lines_ok, key):
    path = write(workdir, edit(base_lines(free_port(), free_port())))
    r = run_l4lb(["check", "-c", path])
    assert r.returncode == 1, f"exit {r.returncode}\nstdout: {r.stdout}\nstderr: {r.stderr}"
    errors = parse_errors(r.stderr, path)
    assert errors, f"no `file:line:column: key: message` line in stderr:\n{r.stderr}"
    assert any(line in lines_ok and key in k for line, _, k, _ in errors), \
        f"expected an error at line {sorted(lines_ok)} about {key!r}, got:\n{r.stderr}"


def test_check_reports_every_error_not_just_the_first(workdir):
    lines = base_lines(free_port(), free_port())
    lines[1] = 'workers = "two"'  # line 2
    lines[7] = 'pool = "nope"'  # line 8
    path = write(workdir, lines)
    r = run_l4lb(["check", "-c", path])
    assert r.returncode == 1
    reported = {line for line, *_ in parse_errors(r.stderr, path)}
    assert {2, 8} <= reported, r.stderr


def test_check_toml_syntax_error(workdir):
    lines = base_lines(free_port(), free_port())
    lines[1] = "workers = "  # line 2
    path = write(workdir, lines)
    r = run_l4lb(["check", "-c", path])
    assert r.returncode == 1
    assert re.search(rf"^{re.escape(path)}:2:", r.stderr, re.MULTILINE), r.stderr


def test_check_missing_file(workdir):
    path = str(workdir / "does-not-exist.toml")
    r = run_l4lb(["check", "-c", path])
    assert r.returncode == 1
    assert path in r.stderr


@pytest.mark.parametrize("edit", [_unknown_pool, _duplicate_bind, _bad_backend_address],
                         ids=["unknown-pool", "duplicate-bind", "bad-backend-address"])
def test_run_refuses_invalid_config(workdir, l4lb_bin, edit):
    port = free_port()
    path = write(workdir, edit(base_lines(port, free_port())))
    r = run_l4lb(["run", "-c", path])
    assert r.returncode == 1, f"exit {r.returncode}\nstderr: {r.stderr}"
    assert parse_errors(r.stderr, path), r.stderr
    assert not harness.can_connect(tcp_url(port))


def test_run_fails_cleanly_when_port_in_use(workdir):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        port = taken.getsockname()[1]
        path = write(workdir, base_lines(port, free_port()))
        r = run_l4lb(["run", "-c", path])
    assert r.returncode > 0, f"exit {r.returncode}\nstderr: {r.stderr}"
    assert str(port) in r.stderr, r.stderr


def test_unknown_command_fails():
    r = run_l4lb(["frobnicate"])
    assert r.returncode not in (0,) and r.returncode > 0, r


def test_quick_mode_round_robin(l4lb, servers):
    b1 = servers(tcp_url(free_port()), name="b1")
    b2 = servers(tcp_url(free_port()), name="b2")
    listen = tcp_url(free_port())
    l4lb(args=["--listen", listen, "--backend", b1.url, "--backend", b2.url, "--workers", "1"],
         ready=[listen])
    names = [harness.ask_name(listen) for _ in range(10)]
    assert set(names) == {"b1", "b2"}, names
    assert all(a != b for a, b in zip(names, names[1:])), f"not alternating: {names}"


def test_quick_mode_balance_option(l4lb, servers):
    b1 = servers(tcp_url(free_port()), name="b1")
    b2 = servers(tcp_url(free_port()), name="b2")
    listen = tcp_url(free_port())
    l4lb(args=["--listen", listen, "--backend", b1.url, "--backend", b2.url,
               "--balance", "first", "--workers", "1"], ready=[listen])
    names = [harness.ask_name(listen) for _ in range(6)]
    assert names == ["b1"] * 6, names


def test_quick_mode_bad_backend_url_fails():
    r = run_l4lb(["run", "--listen", tcp_url(free_port()), "--backend", "nonsense"])
    assert r.returncode > 0, r
    assert "nonsense" in r.stderr, r.stderr
