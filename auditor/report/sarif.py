"""SARIF 2.1.0 for GitHub code scanning.

Which results become SARIF results, and why:

- `fail` -> level `error` (critical, high), `warning` (medium) or `note` (low, info);
- `unknown` -> level `note`, its message starting "Not evaluated:", because a reviewer should see
  that a control could not be observed, but it must not read as a violation;
- `pass`, `not_applicable` and `waived` are left out (code scanning shows problems; waivers are
  the policy's decision and appear in the HTML and Markdown reports);
- `error` (the rule itself raised) is a tool problem, not a finding of the repository: it goes to
  `invocations[0].toolExecutionNotifications`.

Code scanning requires a physical location for every result. Targets that are files
(`file:`, `workflow:`) use their path; every other target (repo, branch, environment, secret,
pull request) points at the pseudo-file `.github` and names the real target in a logical
location. `partialFingerprints` carry a hash of repo + rule + target, so an alert keeps its
identity across runs. An org-wide run holds many repositories while code scanning keeps alerts
per repository: pass `repo=` to `render_sarif` to write the file one repository uploads.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any
from urllib.parse import quote

from auditor.model import Result, Severity, Status
from auditor.report.escape import md_text, safe_identifier
from auditor.report.inputs import ReportInput
from auditor.report.view import RuleMeta, compact_json, fingerprint

SARIF_SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
FINGERPRINT_KEY = "auditorFinding/v1"
PSEUDO_FILE = ".github"
DEFAULT_DOCS_BASE = "docs/rules/"  # relative to the repository; pass an absolute URL to get helpUri

LEVEL = {
    Severity.CRITICAL: "error",
    Severity.HIGH: "error",
    Severity.MEDIUM: "warning",
    Severity.LOW: "note",
    Severity.INFO: "note",
}
# GitHub maps security-severity to critical (> 9.0), high (7.0-8.9), medium (4.0-6.9), low (0.1-3.9).
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
}
_LOGICAL_KIND = {
    "branch": "branch",
    "environment": "environment",
    "secret": "secret",
    "pr": "pullRequest",
    "repo": "repository",
}
_FILE_PREFIXES = ("file:", "workflow:")


def artifact_uri(target: str) -> str:
    """A repository-relative URI for a file target, else the pseudo-file.

    Paths come from the audited repository, so they are percent-encoded and anything that could
    leave the repository (absolute paths, `..`, a scheme) falls back to the pseudo-file.
    """
    for prefix in _FILE_PREFIXES:
        if target.startswith(prefix):
            path = target[len(prefix) :].strip()
            segments = path.split("/")
            if not path or path.startswith("/") or ".." in segments or "" in segments or "\\" in path:
                return PSEUDO_FILE
            return quote(path, safe="/._-~")
    return PSEUDO_FILE


def _kind(target: str) -> str:
    head = target.split(":", 1)[0]
    return _LOGICAL_KIND.get(head, "object")


def _rule_json(rule_id: str, family: str, severity: Severity, meta: RuleMeta | None, docs_base: str) -> dict[str, Any]:
    title = meta.title if meta is not None and meta.title else rule_id
    remediation = meta.remediation if meta is not None else ""
    doc = f"{docs_base}{rule_id}.md" if safe_identifier(rule_id) else ""
    full = f"{title}. Family: {family}; default severity: {severity}."
    if meta is not None and meta.permission:
        full += f" Observing it needs the token permission {meta.permission}."
    help_text = remediation or "See the rule's documentation."
    help_md = f"**{md_text(title)}**\n\n{md_text(help_text, 2000)}"
    if doc:
        help_text += f" Documentation: {doc}"
        help_md += f"\n\nSee [docs/rules/{rule_id}.md]({doc})."
    out: dict[str, Any] = {
        "id": rule_id,
        "shortDescription": {"text": title},
        "fullDescription": {"text": full},
        "help": {"text": help_text, "markdown": help_md},
        "defaultConfiguration": {"level": LEVEL[severity]},
        "properties": {"tags": ["security", family], "problem.severity": _problem_severity(severity)},
    }
    if doc.startswith(("https://", "http://")):
        out["helpUri"] = doc
    if severity in SECURITY_SEVERITY:
        out["properties"]["security-severity"] = SECURITY_SEVERITY[severity]
    return out


def _problem_severity(severity: Severity) -> str:
    return {"error": "error", "warning": "warning", "note": "recommendation"}[LEVEL[severity]]


def _result_json(result: Result, rule_index: int) -> dict[str, Any]:
    unknown = result.status is Status.UNKNOWN
    level = "note" if unknown else LEVEL[result.severity]
    text = f"{result.repo}: {result.message}"
    if unknown:
        text = f"Not evaluated: {text}"
    logical = {
        "name": result.target,
        "fullyQualifiedName": f"{result.repo}/{result.target}",
        "kind": _kind(result.target),
    }
    props: dict[str, Any] = {
        "repo": result.repo,
        "target": result.target,
        "status": str(result.status),
        "severity": str(result.severity),
        "family": result.family,
        "evidence": compact_json(result.evidence),
    }
    if result.control:
        props["control"] = result.control
    if result.remediation:
        props["remediation"] = result.remediation
    return {
        "ruleId": result.rule,
        "ruleIndex": rule_index,
        "level": level,
        "message": {"text": text},
        "locations": [
            {
                "physicalLocation": {"artifactLocation": {"uri": artifact_uri(result.target)}},
                "logicalLocations": [logical],
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint(result.repo, result.rule, result.target)},
        "properties": props,
    }


def sarif_document(
    report: ReportInput, rules: Mapping[str, RuleMeta], *, repo: str | None = None, docs_base: str = DEFAULT_DOCS_BASE
) -> dict[str, Any]:
    """The SARIF log as a dict: one run, rules for the ids its results name."""
    results = [r for r in report.run.results if repo is None or r.repo == repo]
    reported = [r for r in results if r.status in (Status.FAIL, Status.UNKNOWN)]
    rule_ids = sorted({r.rule for r in reported})
    index = {rid: i for i, rid in enumerate(rule_ids)}
    rule_json = []
    for rid in rule_ids:
        sample = [r for r in reported if r.rule == rid]
        worst = max(sample, key=lambda r: r.severity.rank)
        rule_json.append(_rule_json(rid, worst.family, worst.severity, rules.get(rid), docs_base))
    notifications = [
        {
            "level": "error",
            "message": {"text": f"{r.repo}: rule {r.rule} failed on {r.target}: {r.message}"},
            "descriptor": {"id": r.rule},
        }
        for r in results
        if r.status is Status.ERROR
    ]
    version = report.run.tool_version
    driver: dict[str, Any] = {"name": "auditor", "version": version, "rules": rule_json}
    if re.fullmatch(r"\d+\.\d+\.\d+([-+].*)?", version):
        driver["semanticVersion"] = version
    return {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {"driver": driver},
                "automationDetails": {"id": f"auditor/{report.run.policy.name}/"},
                "invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notifications}],
                "results": [_result_json(r, index[r.rule]) for r in reported],
                "properties": {
                    "runId": report.run.id,
                    "policy": report.run.policy.name,
                    "policyVersion": report.run.policy.version,
                },
            }
        ],
    }


def render_sarif(
    report: ReportInput, rules: Mapping[str, RuleMeta], *, repo: str | None = None, docs_base: str = DEFAULT_DOCS_BASE
) -> str:
    """The SARIF log as indented JSON text."""
    doc = sarif_document(report, rules, repo=repo, docs_base=docs_base)
    return json.dumps(doc, indent=2, ensure_ascii=False) + "\n"
