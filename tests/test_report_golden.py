"""Golden files for the Markdown and HTML reports.

Regenerate after an intended change with
`UPDATE_GOLDEN=1 .venv/bin/pytest tests/test_report_golden.py` and review the diff
(tests/golden/README.md).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from auditor.report.render import render
from tests.report.fixtures import RULES, report_input

GOLDEN = Path(__file__).parent / "golden"
CASES = {
    "report.md": lambda: render("md", report_input(), rules=RULES),
    "report_short.md": lambda: render("md", report_input(), rules=RULES, short=True),
    "report.html": lambda: render("html", report_input(), rules=RULES),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_golden_file(name: str) -> None:
    actual = CASES[name]()
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN") == "1":
        path.write_text(actual, encoding="utf-8", newline="")
    assert path.exists(), f"{path} is missing; run UPDATE_GOLDEN=1 .venv/bin/pytest {__file__}"
    expected = path.read_text(encoding="utf-8")
    assert actual == expected, (
        f"{name} differs from its golden file; if intended, regenerate it (tests/golden/README.md)"
    )
