"""Machine-readable outputs: the JSON report of docs/cli.md and a CSV of findings.

Both keep every result (all statuses; a consumer filters) and every string whole: truncation is
for people, not for tools. Times are UTC ISO 8601 with a `Z`.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from auditor.model import RepoSummary, Result, Run, WaiverRef, iso
from auditor.report.inputs import ReportInput
from auditor.report.view import STATUSES, compact_json

SCHEMA = "auditor.report/v1"
CSV_FIELDS = (
    "rule",
    "family",
    "repo",
    "target",
    "status",
    "severity",
    "message",
    "evidence",
    "remediation",
    "control",
    "waiver",
)
# A spreadsheet treats a cell starting with one of these as a formula; GitHub names can start so.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def waiver_json(waiver: WaiverRef | None) -> dict[str, Any] | None:
    """The waiver that covered a result, or None."""
    if waiver is None:
        return None
    return {
        "owner": waiver.owner,
        "reason": waiver.reason,
        "expires": waiver.expires.isoformat(),
        "expired": waiver.expired,
    }


def finding_json(result: Result) -> dict[str, Any]:
    """One result as the `findings` items of docs/cli.md."""
    return {
        "rule": result.rule,
        "family": result.family,
        "repo": result.repo,
        "target": result.target,
        "status": str(result.status),
        "severity": str(result.severity),
        "message": result.message,
        "evidence": result.evidence,
        "remediation": result.remediation,
        "control": result.control,
        "waiver": waiver_json(result.waiver),
    }


def repo_json(summary: RepoSummary) -> dict[str, Any]:
    """One repository's verdict; counts always carry every status."""
    return {
        "repo": summary.repo,
        "status": summary.status,
        "score": summary.score,
        "coverage": summary.coverage,
        "counts": {str(s): summary.counts.get(str(s), 0) for s in sorted(STATUSES, key=_status_order)},
    }


def _status_order(status: Any) -> int:
    return ("pass", "fail", "unknown", "not_applicable", "waived", "error").index(str(status))


def run_json(run: Run) -> dict[str, Any]:
    """The `run` object of the JSON report."""
    return {
        "id": run.id,
        "started_at": iso(run.started_at),
        "finished_at": None if run.finished_at is None else iso(run.finished_at),
        "tool_version": run.tool_version,
        "policy": {"name": run.policy.name, "version": run.policy.version, "digest": run.policy.digest},
        "api": {"requests": run.api.requests, "rate_limit_used": run.api.rate_limit_used},
    }


def report_json(report: ReportInput) -> dict[str, Any]:
    """The whole JSON document (docs/cli.md, schema auditor.report/v1)."""
    return {
        "schema": SCHEMA,
        "run": run_json(report.run),
        "repos": [repo_json(s) for s in report.run.repos],
        "findings": [finding_json(r) for r in report.run.results],
    }


def render_json(report: ReportInput) -> str:
    """The JSON report as text, indented, keys in the documented order, ending with a newline."""
    return json.dumps(report_json(report), indent=2, ensure_ascii=False, default=str) + "\n"


def _cell(value: str) -> str:
    """Neutralise spreadsheet formula injection the way OWASP recommends: a leading quote."""
    return "'" + value if value.startswith(_FORMULA_START) else value


def render_csv(report: ReportInput) -> str:
    """One row per result with the JSON finding fields; evidence and waiver as compact JSON."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(CSV_FIELDS)
    for r in report.run.results:
        waiver = waiver_json(r.waiver)
        row = [
            r.rule,
            r.family,
            r.repo,
            r.target,
            str(r.status),
            str(r.severity),
            r.message,
            compact_json(r.evidence),
            r.remediation,
            r.control or "",
            "" if waiver is None else compact_json(waiver),
        ]
        writer.writerow([_cell(c) for c in row])
    return buf.getvalue()
