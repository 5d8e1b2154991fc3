#!/usr/bin/env python3
"""Checks that the folders of src/ include one another only the way CMakeLists.txt links them.

Each folder of src/ is one library, l4lb_<folder> (app/: l4lb_app, all of it but main.cc), and its DEPS say
which libraries it may use: those, and what they use in turn. Every `#include "folder/..."` in
src/ must name its own folder or one of those; otherwise this prints file:line, what it includes,
and fails. Run by ctest as the `layers` test; by hand: scripts/check-layers.py [repo root].
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# Includes that point the wrong way today, each with why it is allowed for now: (file, header).
# Includes allowed against the graph, each with its reason (none today: add one only with a plan
# to remove it).
KNOWN: set[tuple[str, str]] = set()

LIBRARY = re.compile(r"l4lb_library\(\s*(\w+)\s+DEPS\s+([^)]*)\)")
APP = re.compile(r"target_link_libraries\(\s*l4lb_app\s+PUBLIC\s+([^)]*)\)")
INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"/]+)/([^"]+)"')


def graph(cmake: str) -> dict[str, set[str]]:
    """{folder: the folders it links directly}, from the l4lb_library calls and l4lb_app's."""
    deps: dict[str, set[str]] = {}
    for name, args in LIBRARY.findall(cmake):
        deps[name] = {d[len("l4lb_"):] for d in args.split() if d.startswith("l4lb_")}
    m = APP.search(cmake)
    if m:
        deps["app"] = {d[len("l4lb_"):] for d in m.group(1).split() if d.startswith("l4lb_")}
    return deps


def below(deps: dict[str, set[str]], folder: str) -> set[str]:
    """Every folder `folder` may include: its DEPS, theirs, and so on."""
    seen: set[str] = set()
    todo = list(deps.get(folder, ()))
    while todo:
        d = todo.pop()
        if d not in seen:
            seen.add(d)
            todo.extend(deps.get(d, ()))
    return seen


def main() -> int:
    root = Path(sys.argv[1] if len(sys.argv) > 1 else Path(__file__).resolve().parent.parent)
    deps = graph((root / "CMakeLists.txt").read_text())
    problems: list[str] = []
    for folder in deps:
        if folder in below(deps, folder):
            problems.append(f"CMakeLists.txt: l4lb_{folder} depends on itself (a cycle)")
    used: set[tuple[str, str]] = set()
    src = root / "src"
    for path in sorted(src.rglob("*")):
        if path.suffix not in (".h", ".cc") or not path.is_file():
            continue
        rel = path.relative_to(root).as_posix()
        folder = path.relative_to(src).parts[0]
        if folder not in deps:
            problems.append(f"{rel}: src/{folder}/ is no library in CMakeLists.txt")
            continue
        allowed = below(deps, folder) | {folder}
        for number, line in enumerate(path.read_text().splitlines(), 1):
            m = INCLUDE.match(line)
            if not m or not (src / m.group(1)).is_dir() or m.group(1) in allowed:
                continue
            header = f"{m.group(1)}/{m.group(2)}"
            if (rel, header) in KNOWN:
                used.add((rel, header))
                continue
            problems.append(f"{rel}:{number}: {folder}/ includes {header}, but l4lb_{folder} "
                            f"does not depend on l4lb_{m.group(1)} (CMakeLists.txt)")
    for rel, header in sorted(KNOWN - used):
        print(f"note: {rel} no longer includes {header}: drop it from KNOWN in {__file__}")
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
