"""Run the reliability suite and print the figures table of docs/reliability.md.

    .venv/bin/python -m tests.reliability.figures            # bounded (the `ci` hypothesis profile)
    HYPOTHESIS_PROFILE=long .venv/bin/python -m tests.reliability.figures   # thousands of fuzz inputs

Each test appends what it measured (faults injected, inputs tried, leaks found, ...) to a JSON-lines
file named by AUDITOR_FIGURES (see `support.record`); this script sums them per row.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections import defaultdict
from pathlib import Path


def collect(path: Path) -> dict[str, dict[str, int]]:
    """Sum every figure per row."""
    rows: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for line in path.read_text(encoding="utf-8").splitlines():
        entry = json.loads(line)
        row = entry.pop("row")
        for key, value in entry.items():
            rows[row][key] += int(value)
    return {k: dict(v) for k, v in rows.items()}


def main() -> int:
    with tempfile.TemporaryDirectory() as tmp:
        figures = Path(tmp) / "figures.jsonl"
        figures.touch()
        env = {**os.environ, "AUDITOR_FIGURES": str(figures)}
        proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/reliability"],
                              env=env, check=False)
        rows = collect(figures)
    print("\n| row | figures |\n|---|---|")
    for row in sorted(rows):
        print(f"| {row} | " + ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in rows[row].items()) + " |")
    print(f"\npytest exit code {proc.returncode}; hypothesis profile {os.environ.get('HYPOTHESIS_PROFILE', 'ci')}")
    return proc.returncode


if __name__ == "__main__":
    sys.exit(main())
