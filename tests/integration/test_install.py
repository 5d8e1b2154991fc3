"""Packaging: `cmake --install` lays out the binary, the systemd unit, sysusers.d and
tmpfiles.d entries, man pages and examples; the pages render cleanly and describe every config
key; systemd's own tools accept the unit and the entries."""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

import harness

REPO = harness.REPO
# The build directory of the binary under test (build/ or build/sanitize/).
BUILD_DIR = Path(harness.L4LB_BIN).parent

EXPECTED = [
    "bin/l4lb",
    "lib/systemd/system/l4lb.service",
    "lib/systemd/system/l4lb.socket",
    "lib/sysusers.d/l4lb.conf",
    "lib/tmpfiles.d/l4lb.conf",
    "share/man/man8/l4lb.8",
    "share/man/man5/l4lb.toml.5",
    "share/doc/l4lb/examples/service.toml",
    "share/doc/l4lb/examples/l4lb.toml",
    "share/doc/l4lb/examples/quickstart.toml",
    "share/bash-completion/completions/l4lb",
    "share/zsh/vendor-completions/_l4lb",
]


def run(argv, **kw):
    return subprocess.run(argv, capture_output=True, text=True, timeout=120, **kw)


@pytest.fixture(scope="module")
def prefix(tmp_path_factory):
    if not (BUILD_DIR / "cmake_install.cmake").is_file():
        pytest.fail(f"{BUILD_DIR} has no install rules: configure it with CMake first",
                    pytrace=False)
    root = tmp_path_factory.mktemp("prefix")
    result = run(["cmake", "--install", str(BUILD_DIR), "--prefix", str(root)])
    assert result.returncode == 0, result.stdout + result.stderr
    return root


def test_install_lays_out_binary_unit_users_tmpfiles_man_pages_and_examples(prefix):
    for rel in EXPECTED:
        assert (prefix / rel).is_file(), f"{rel} not installed"
    binary = prefix / "bin/l4lb"
    assert os.stat(binary).st_mode & stat.S_IXUSR
    assert run([str(binary), "--version"]).stdout.startswith("l4lb ")
    unit = (prefix / "lib/systemd/system/l4lb.service").read_text()
    # The unit names the binary where it was installed.
    assert f"ExecStart={binary} run -c /etc/l4lb/l4lb.toml\n" in unit
    assert f"ExecStartPre={binary} check -c /etc/l4lb/l4lb.toml\n" in unit
    assert "Type=notify\n" in unit and "ExecReload=/bin/kill -HUP $MAINPID\n" in unit
    assert "@" not in "".join(ln for ln in unit.splitlines() if not ln.startswith("#"))


def test_man_pages_render_without_warnings(prefix):
    if shutil.which("groff") is None:
        pytest.skip("groff is not installed")
    for page in ("share/man/man8/l4lb.8", "share/man/man5/l4lb.toml.5"):
        result = run(["groff", "-man", "-Tutf8", "-ww", "-z", str(prefix / page)])
        assert result.returncode == 0 and result.stderr == "", f"{page}: {result.stderr}"
        if shutil.which("man"):
            shown = run(["man", "--warnings", "-l", str(prefix / page)],
                        env={**os.environ, "MANWIDTH": "100", "MAN_KEEP_FORMATTING": "0"})
            assert shown.returncode == 0 and shown.stderr == "", f"{page}: {shown.stderr}"
            assert "l4lb" in shown.stdout
    if shutil.which("man"):
        # The pages are found by name under the prefix, as `man l4lb.toml` will find them.
        found = run(["man", "-w", "l4lb.toml"],
                    env={**os.environ, "MANPATH": str(prefix / "share/man")})
        assert found.stdout.strip() == str(prefix / "share/man/man5/l4lb.toml.5")


def accepted_keys() -> set[str]:
    """Every key the config reader accepts: the k...Keys lists in src/config/*.cc."""
    keys = set()
    for source in sorted((REPO / "src/config").glob("*.cc")):
        text = source.read_text()
        for match in re.finditer(r"constexpr std::array k\w*Keys\s*=\s*\{(.*?)\};", text, re.S):
            keys.update(re.findall(r'"(\w+)"sv', match.group(1)))
    return keys


def test_every_config_key_is_described_in_the_toml_man_page():
    keys = accepted_keys()
    # The lists are found (global, listener, pool, backend, health, route and admin keys).
    for sample in ("workers", "user", "group", "bind", "per_source_rate", "maglev_table_size",
                   "mq_message_size", "expect_status", "alpn", "token_file"):
        assert sample in keys, f"{sample!r} not found in src/config/: the key lists moved?"
    page = (REPO / "man/l4lb.toml.5").read_text()
    described = set(re.findall(r"^\.B (\w+)$", page, re.M))
    missing = sorted(keys - described)
    assert not missing, f"keys without a '.B key' entry in man/l4lb.toml.5: {missing}"


def test_systemd_analyze_verifies_the_unit_and_socket(prefix):
    if shutil.which("systemd-analyze") is None:
        pytest.skip("systemd-analyze is not installed")
    units = prefix / "lib/systemd/system"
    # MANPATH: the unit's Documentation= pages are checked too, against the installed ones.
    result = run(["systemd-analyze", "verify", str(units / "l4lb.service"),
                  str(units / "l4lb.socket")],
                 env={**os.environ, "MANPATH": str(prefix / "share/man")})
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stderr.strip() == "", result.stderr


def test_sysusers_and_tmpfiles_entries_create_the_account_and_log_directory(prefix, tmp_path):
    for tool in ("systemd-sysusers", "systemd-tmpfiles"):
        if shutil.which(tool) is None:
            pytest.skip(f"{tool} is not installed")
    if os.geteuid() != 0:
        pytest.skip("systemd-tmpfiles --root chowns: needs root")
    root = tmp_path / "root"
    (root / "etc").mkdir(parents=True)
    for kind in ("sysusers.d", "tmpfiles.d"):
        (root / "usr/lib" / kind).mkdir(parents=True)
        shutil.copy(prefix / "lib" / kind / "l4lb.conf", root / "usr/lib" / kind / "l4lb.conf")
    result = run(["systemd-sysusers", f"--root={root}"])
    assert result.returncode == 0, result.stderr
    entry = [ln for ln in (root / "etc/passwd").read_text().splitlines()
             if ln.startswith("l4lb:")]
    assert len(entry) == 1, (root / "etc/passwd").read_text()
    uid, gid, shell = int(entry[0].split(":")[2]), int(entry[0].split(":")[3]), entry[0].split(":")[6]
    assert uid != 0 and shell.endswith("nologin")
    result = run(["systemd-tmpfiles", f"--root={root}", "--create"])
    assert result.returncode == 0, result.stderr
    logs = os.stat(root / "var/log/l4lb")
    assert (logs.st_uid, logs.st_gid, stat.S_IMODE(logs.st_mode)) == (uid, gid, 0o750)


def test_packaged_example_config_is_valid(tmp_path):
    # It runs as the l4lb account the package creates; here, as one that exists.
    text = (REPO / "packaging/l4lb.toml").read_text().replace('user = "l4lb"', 'user = "nobody"')
    assert 'user = "nobody"' in text
    path = tmp_path / "service.toml"
    path.write_text(text)
    result = harness.run_l4lb(["check", "-c", str(path)])
    assert result.returncode == 0, result.stderr
