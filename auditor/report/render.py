"""Render a ReportInput as Markdown, HTML, JSON, CSV or SARIF, and write report files.

HTML goes through Jinja with autoescaping on; Markdown through an environment whose `finalize`
escapes every printed value with `md_text`, so a template cannot forget to escape a GitHub
string. Values already escaped (code spans) are `MdSafe` and print unchanged. The page's only
script is fixed text whose hash goes into the Content-Security-Policy, so even a string that
slipped past escaping could not run.
"""

from __future__ import annotations

import base64
import enum
import hashlib
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from auditor.report.escape import MdSafe, md_code, md_text
from auditor.report.inputs import ReportInput
from auditor.report.machine import render_csv, render_json
from auditor.report.sarif import render_sarif
from auditor.report.view import ReportView, RuleMeta, build_view

GITHUB_COMMENT_LIMIT = 65_535
SHORT_BUDGET = 65_000  # a margin under GitHub's limit for the caller's own prefix


class ReportFormat(enum.StrEnum):
    """The formats `--format` accepts."""

    MD = "md"
    HTML = "html"
    JSON = "json"
    CSV = "csv"
    SARIF = "sarif"

    @property
    def filename(self) -> str:
        """The file `write_reports` writes for this format."""
        return _FILENAMES[self]


_FILENAMES = {
    ReportFormat.MD: "report.md",
    ReportFormat.HTML: "report.html",
    ReportFormat.JSON: "audit.json",
    ReportFormat.CSV: "findings.csv",
    ReportFormat.SARIF: "audit.sarif",
}

# The page's inline script: sortable tables and a marker that proves the script ran. It reads
# only data-* attributes and text the page already shows; no GitHub string is ever put into it.
PAGE_SCRIPT = """
(function () {
  "use strict";
  document.documentElement.setAttribute("data-report-js", "ready");
  function key(cell) {
    var v = cell.getAttribute("data-sort");
    if (v === null) { v = cell.textContent.trim().toLowerCase(); return [1, v]; }
    var n = parseFloat(v);
    return isNaN(n) ? [1, v.toLowerCase()] : [0, n];
  }
  function sortBy(table, col, th) {
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    var dir = th.getAttribute("aria-sort") === "ascending" ? -1 : 1;
    rows.sort(function (a, b) {
      var x = key(a.cells[col]), y = key(b.cells[col]);
      if (x[0] !== y[0]) { return x[0] - y[0]; }
      return (x[1] < y[1] ? -1 : x[1] > y[1] ? 1 : 0) * dir;
    });
    Array.prototype.forEach.call(th.parentNode.children, function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", dir === 1 ? "ascending" : "descending");
    rows.forEach(function (r) { body.appendChild(r); });
  }
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th, col) {
      var b = document.createElement("button");
      b.type = "button";
      b.className = "sort";
      while (th.firstChild) { b.appendChild(th.firstChild); }
      th.appendChild(b);
      b.addEventListener("click", function () { sortBy(table, col, th); });
    });
  });
})();
"""


def _script_hash(script: str) -> str:
    return "sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()


def _md_finalize(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, MdSafe):
        return value
    if isinstance(value, bool | int | float):
        return str(value)
    return md_text(value, 2000)


@cache
def _html_env() -> Environment:
    return Environment(
        loader=PackageLoader("auditor.report", "templates"),
        autoescape=select_autoescape(default=True, default_for_string=True),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def _md_env() -> Environment:
    # Markdown is escaped by finalize=_md_finalize (md_text), not by HTML autoescaping.
    env = Environment(
        loader=PackageLoader("auditor.report", "templates"),
        autoescape=False,  # noqa: S701
        finalize=_md_finalize,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["code"] = lambda v, limit=300, in_table=True: md_code(v, limit, in_table=in_table)
    env.filters["short"] = lambda v, limit=200: md_text(v, limit)
    # Only for the output of this package's own macros, whose values were escaped inside them.
    env.filters["md_raw"] = MdSafe
    return env


def _default_rules() -> Mapping[str, RuleMeta]:
    # Imported late: renderers given their own catalog (tests, golden files) never load the rules.
    from auditor.rules import RULES_BY_ID

    return RULES_BY_ID


def render_html(view: ReportView) -> str:
    """The self-contained HTML page."""
    template = _html_env().get_template("report.html.j2")
    csp = (
        f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src '{_script_hash(PAGE_SCRIPT)}'; base-uri 'none'; form-action 'none'"
    )
    return template.render(v=view, script=PAGE_SCRIPT, csp=csp)


def _md_limits_sequence() -> Iterable[dict[str, int]]:
    """Ever smaller amounts of detail for the short form, the last one headline-only."""
    for n in (200, 100, 50, 25, 10, 5, 0):
        yield {
            "failing": n,
            "changes": min(n, 25),
            "repos": min(max(n, 10), 50),
            "waivers": min(n, 20),
            "unobserved": min(n, 20),
        }


def render_markdown(view: ReportView, *, short: bool = False) -> str:
    """GitHub-flavoured Markdown; `short` fits GitHub's 65,535 characters and says what it left out."""
    env = _md_env()
    if not short:
        return env.get_template("report.md.j2").render(v=view)
    template = env.get_template("report_short.md.j2")
    text = ""
    for limits in _md_limits_sequence():
        text = template.render(v=view, limit=limits)
        if len(text) <= SHORT_BUDGET:
            return text
    return text[: SHORT_BUDGET - 40] + "\n\n\u2026 (cut to fit GitHub's size limit)\n"


def render(
    fmt: ReportFormat | str, report: ReportInput, *, rules: Mapping[str, RuleMeta] | None = None, short: bool = False
) -> str:
    """One report as text. `rules` defaults to the shipped catalog; `short` applies to Markdown."""
    fmt = ReportFormat(fmt)
    catalog = _default_rules() if rules is None else rules
    if fmt is ReportFormat.JSON:
        return render_json(report)
    if fmt is ReportFormat.CSV:
        return render_csv(report)
    if fmt is ReportFormat.SARIF:
        return render_sarif(report, catalog)
    view = build_view(report, catalog)
    if fmt is ReportFormat.HTML:
        return render_html(view)
    return render_markdown(view, short=short)


def write_reports(
    formats: Iterable[ReportFormat | str],
    report: ReportInput,
    out_dir: Path,
    *,
    rules: Mapping[str, RuleMeta] | None = None,
) -> list[Path]:
    """Write each format to its file in `out_dir` (created if missing); returns the paths written."""
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for fmt in dict.fromkeys(ReportFormat(f) for f in formats):
        path = out_dir / fmt.filename
        path.write_text(render(fmt, report, rules=rules), encoding="utf-8", newline="")
        written.append(path)
    return written
