"""Renders the rows the fault scenarios recorded (JSON lines) as the markdown table of
docs/reliability.md, and as one JSON document.

    python3 tests/faults/report.py RESULTS.jsonl [--json OUT.json]
"""

from __future__ import annotations

import json
import re
import sys

SUBJECT_ORDER = {"l4lb": 0, "haproxy": 1, "nginx": 2}


def scenario_key(row: dict) -> tuple:
    m = re.match(r"(\d+)", row["scenario"])
    return (int(m.group(1)) if m else 99, row["scenario"], SUBJECT_ORDER.get(row["subject"], 9))


def cell(value) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {v}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


def markdown(rows: list[dict]) -> str:
    out = ["| Scenario | Proxy | Figures |", "|---|---|---|"]
    for row in sorted(rows, key=scenario_key):
        figures = "; ".join(f"{k} {cell(v)}" for k, v in row["figures"].items())
        out.append(f"| {row['scenario']} | {row['subject']} | {figures.replace('|', '/')} |")
    return "\n".join(out) + "\n"


def main() -> int:
    path = sys.argv[1]
    rows = [json.loads(line) for line in open(path) if line.strip()]
    if "--json" in sys.argv:
        with open(sys.argv[sys.argv.index("--json") + 1], "w") as f:
            json.dump(sorted(rows, key=scenario_key), f, indent=1)
    sys.stdout.write(markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
