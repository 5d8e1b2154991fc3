"""Shell completion (`l4lb completion bash|zsh`, installed by `cmake --install`): written from
the command line's own definition, so every subcommand and option completes, option values
complete as files or choices, and pool and backend names come from the running l4lb."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from harness import L4LB_BIN
from test_admin_api import start

BASH_DRIVER = r'''
source "$1"; shift
COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1))
_l4lb
printf '%s\n' "${COMPREPLY[@]}"
'''

# zsh's completion system needs a terminal; its functions are stood in for by ones that print
# what they were given, and the script runs as compinit would run it.
ZSH_DRIVER = r'''
_describe() { print -l -- "${(@P)${@[-1]}}" }
compadd() { print -l -- "${(@P)2}" }
_files() { print -- "<files>" }
script=$1; shift
words=("$@"); CURRENT=$#; PREFIX=${words[-1]}
source "$script"
'''


@pytest.fixture(scope="module")
def scripts(tmp_path_factory) -> dict[str, Path]:
    out = {}
    directory = tmp_path_factory.mktemp("completion")
    for shell in ("bash", "zsh"):
        result = subprocess.run([L4LB_BIN, "completion", shell], capture_output=True, text=True,
                                timeout=10)
        assert result.returncode == 0, result.stderr
        out[shell] = directory / shell
        out[shell].write_text(result.stdout)
    return out


def bash(scripts, *words: str) -> list[str]:
    result = subprocess.run(["bash", "-c", BASH_DRIVER, "driver", str(scripts["bash"]), *words],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.split()


def zsh(scripts, *words: str) -> list[str]:
    result = subprocess.run(["zsh", "-f", "-c", ZSH_DRIVER, "driver", str(scripts["zsh"]), *words],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    return result.stdout.split("\n")


def test_bash_completes_commands_options_and_values(scripts):
    assert bash(scripts, "l4lb", "") == ["run", "check", "ctl", "decap", "completion"]
    assert set(bash(scripts, "l4lb", "ctl", "d")) == {"drain", "disable"}
    assert bash(scripts, "l4lb", "ctl", "lo") == ["lookup"]
    assert "--token-file" in bash(scripts, "l4lb", "ctl", "--")
    # An option's value is not a subcommand: after --socket URL, ctl's subcommands again.
    assert "pools" in bash(scripts, "l4lb", "ctl", "--socket", "unix:///x", "po")
    assert bash(scripts, "l4lb", "run", "--balance", "ma") == ["maglev"]
    assert bash(scripts, "l4lb", "completion", "") == ["bash", "zsh"]
    examples = str(Path(__file__).resolve().parents[2] / "examples" / "quick")
    assert bash(scripts, "l4lb", "check", "-c", examples) == [examples + "start.toml"]


def test_bash_completes_pool_and_backend_names_from_the_running_l4lb(l4lb, workdir, servers,
                                                                     scripts):
    _proc, _listen, sock, _bs = start(l4lb, workdir, servers, names={0: "alpha", 1: "beta"})
    url = f"unix://{sock}"
    # The first word is the command as typed: the names come from running it.
    assert bash(scripts, L4LB_BIN, "ctl", "--socket", url, "pool", "") == ["back"]
    assert bash(scripts, L4LB_BIN, "ctl", "--socket", url, "lookup", "") == ["back"]
    assert bash(scripts, L4LB_BIN, "ctl", "--socket", url, "drain", "back", "") == ["alpha",
                                                                                     "beta"]
    assert bash(scripts, L4LB_BIN, "ctl", "--socket", url, "drain", "back", "b") == ["beta"]
    # Nothing running there: no names, and no error printed into the command line.
    assert bash(scripts, L4LB_BIN, "ctl", "--socket", "unix:///nonexistent", "pool", "") == []


@pytest.mark.skipif(shutil.which("zsh") is None, reason="zsh is not installed")
def test_zsh_completes_with_descriptions(scripts, l4lb, workdir, servers):
    commands = zsh(scripts, "l4lb", "")
    assert "ctl:Query or change a running l4lb through its admin API" in commands
    assert any(line.startswith("--upgrade-from:") for line in zsh(scripts, "l4lb", "run", "--"))
    assert zsh(scripts, "l4lb", "check", "-c", "")[0] == "<files>"
    _proc, _listen, sock, _bs = start(l4lb, workdir, servers, names={0: "alpha", 1: "beta"})
    names = zsh(scripts, L4LB_BIN, "ctl", "--socket", f"unix://{sock}", "weight", "back", "")
    assert [n for n in names if n] == ["alpha", "beta"]
