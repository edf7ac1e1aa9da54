"""JSON (docs/cli.md), CSV and SARIF outputs: exact shapes, every status, stable fingerprints."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import jsonschema
import pytest

from auditor.model import Status
from auditor.report.render import ReportFormat, render, write_reports
from auditor.report.sarif import FINGERPRINT_KEY, PSEUDO_FILE, artifact_uri, sarif_document
from tests.report.fixtures import HOSTILE_LONG, HOSTILE_REPO, RULES, latest_results, report_input, result

SARIF_SCHEMA = Path(__file__).resolve().parents[3] / "shared" / "sarif" / "sarif-schema-2.1.0.json"
STATUS_KEYS = ["pass", "fail", "unknown", "not_applicable", "waived", "error"]


def test_json_follows_the_cli_contract() -> None:
    doc = json.loads(render(ReportFormat.JSON, report_input(), rules=RULES))
    assert list(doc) == ["schema", "run", "repos", "findings"]
    assert doc["schema"] == "auditor.report/v1"
    run = doc["run"]
    assert list(run) == ["id", "started_at", "finished_at", "tool_version", "policy", "api"]
    assert run["started_at"] == "2026-11-26T10:00:00Z"
    assert run["finished_at"] == "2026-11-26T10:00:42Z"
    assert run["policy"] == {"name": "deployment-standard", "version": 3, "digest": "sha256:" + "ab" * 32}
    assert run["api"] == {"requests": 41, "rate_limit_used": 38}
    web = doc["repos"][0]
    assert list(web) == ["repo", "status", "score", "coverage", "counts"]
    assert list(web["counts"]) == STATUS_KEYS
    assert web["status"] == "fail"
    assert web["score"] == pytest.approx(12.5 / 30)  # pass high + medium of high, high, low fails


def test_json_findings_carry_every_status_and_field() -> None:
    doc = json.loads(render("json", report_input(), rules=RULES))
    findings = doc["findings"]
    assert len(findings) == len(latest_results())
    assert {f["status"] for f in findings} == set(STATUS_KEYS)
    assert list(findings[0]) == [
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
    ]
    waived = next(f for f in findings if f["status"] == "waived" and f["repo"] == "acme/api")
    assert waived["waiver"] == {
        "owner": "platform-team",
        "reason": "Legacy deploy pipeline until Q1 migration.",
        "expires": "2026-12-03",
        "expired": False,
    }
    hostile = next(f for f in findings if f["target"] == "secret:" + HOSTILE_LONG)
    assert hostile["evidence"] == {"blob": HOSTILE_LONG}  # machines get strings whole


def test_csv_has_one_row_per_result_with_compact_evidence() -> None:
    text = render("csv", report_input(), rules=RULES)
    rows = list(csv.DictReader(io.StringIO(text)))
    assert len(rows) == len(latest_results())
    row = next(r for r in rows if r["rule"] == "reviews-required-approvals" and r["repo"] == "acme/web")
    assert json.loads(row["evidence"]) == {"actual": 1, "required": 2, "source": "ruleset:Protect main"}
    assert row["waiver"] == ""
    waived = next(r for r in rows if r["status"] == "waived" and r["repo"] == "acme/api")
    assert json.loads(waived["waiver"])["owner"] == "platform-team"


@pytest.mark.parametrize("value", ['=HYPERLINK("http://x")', "+1", "-2", "@SUM(A1)"])
def test_csv_neutralises_spreadsheet_formulas(value: str) -> None:
    base = report_input()
    ri = report_input((result("branch-protected", "acme/web", value, Status.FAIL, message=value),))
    assert base is not ri
    rows = list(csv.DictReader(io.StringIO(render("csv", ri, rules=RULES))))
    assert rows[0]["target"] == "'" + value
    assert rows[0]["message"] == "'" + value


def _sarif() -> dict[str, object]:
    return json.loads(render(ReportFormat.SARIF, report_input(), rules=RULES))


@pytest.mark.skipif(not SARIF_SCHEMA.exists(), reason="shared SARIF schema not present")
def test_sarif_validates_against_the_2_1_0_schema() -> None:
    jsonschema.validate(_sarif(), json.loads(SARIF_SCHEMA.read_text()))


def test_sarif_reports_fail_and_unknown_only_with_levels() -> None:
    doc = sarif_document(report_input(), RULES)
    run = doc["runs"][0]
    results = run["results"]
    by_status = {(r["properties"]["repo"], r["ruleId"]): r for r in results}
    statuses = {r["properties"]["status"] for r in results}
    assert statuses == {"fail", "unknown"}
    assert len(results) == 8
    assert by_status[("acme/api", "secrets-env-scoped")]["level"] == "error"  # critical
    assert by_status[("acme/web", "docs-rollback")]["level"] == "note"  # low
    unknown = by_status[("acme/web", "env-required-reviewers")]
    assert unknown["level"] == "note"
    assert unknown["message"]["text"].startswith("Not evaluated: acme/web: ")
    notes = run["invocations"][0]["toolExecutionNotifications"]
    assert len(notes) == 1
    assert notes[0]["descriptor"]["id"] == "security-dependabot-alerts"


def test_sarif_rules_have_help_tags_and_security_severity() -> None:
    run = sarif_document(report_input(), RULES)["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert run["tool"]["driver"]["name"] == "auditor"
    assert run["tool"]["driver"]["version"] == "0.1.0"
    assert [r["id"] for r in rules] == sorted(r["id"] for r in rules)
    for i, res in enumerate(run["results"]):
        assert rules[res["ruleIndex"]]["id"] == res["ruleId"], i
    secrets = next(r for r in rules if r["id"] == "secrets-env-scoped")
    assert secrets["shortDescription"]["text"] == "Deploy credentials live in environments"
    assert "Move the secret" in secrets["help"]["text"]
    assert "docs/rules/secrets-env-scoped.md" in secrets["help"]["markdown"]
    assert secrets["properties"]["tags"] == ["security", "secrets"]
    assert secrets["properties"]["security-severity"] == "9.5"


def test_sarif_every_result_has_a_physical_location_and_fingerprint() -> None:
    run = sarif_document(report_input(), RULES)["runs"][0]
    uris = set()
    for res in run["results"]:
        (loc,) = res["locations"]
        uri = loc["physicalLocation"]["artifactLocation"]["uri"]
        assert uri
        uris.add(uri)
        assert loc["logicalLocations"][0]["name"] == res["properties"]["target"]
        assert len(res["partialFingerprints"][FINGERPRINT_KEY]) == 64
    assert "docs/rollback.md" in uris
    assert PSEUDO_FILE in uris
    assert ".github/workflows/%3Cscript%3E.yml" in uris
    fps = [r["partialFingerprints"][FINGERPRINT_KEY] for r in run["results"]]
    assert len(set(fps)) == len(fps)


def test_sarif_fingerprints_are_stable_across_runs() -> None:
    a = sarif_document(report_input(), RULES)["runs"][0]["results"]
    later = report_input(latest_results()[::-1])
    b = sarif_document(later, RULES)["runs"][0]["results"]
    key = lambda r: (r["properties"]["repo"], r["ruleId"], r["properties"]["target"])  # noqa: E731
    assert {key(r): r["partialFingerprints"] for r in a} == {key(r): r["partialFingerprints"] for r in b}


@pytest.mark.parametrize(
    ("target", "uri"),
    [
        ("workflow:.github/workflows/deploy.yml", ".github/workflows/deploy.yml"),
        ("file:docs/run book.md", "docs/run%20book.md"),
        ("file:../../etc/passwd", PSEUDO_FILE),
        ("file:/etc/passwd", PSEUDO_FILE),
        ("file:javascript:alert(1)", "javascript%3Aalert%281%29"),
        ("branch:main", PSEUDO_FILE),
        ("environment:production", PSEUDO_FILE),
        ("repo", PSEUDO_FILE),
        ("pr:12", PSEUDO_FILE),
    ],
)
def test_artifact_uri(target: str, uri: str) -> None:
    assert artifact_uri(target) == uri


def test_sarif_can_be_limited_to_one_repository() -> None:
    run = sarif_document(report_input(), RULES, repo="acme/web")["runs"][0]
    assert {r["properties"]["repo"] for r in run["results"]} == {"acme/web"}
    assert HOSTILE_REPO not in json.dumps(run)


def test_sarif_falls_back_to_the_rule_id_when_the_catalog_lacks_it() -> None:
    ri = report_input((result("made-up-rule", "acme/web", "repo", Status.FAIL),))
    (rule,) = sarif_document(ri, {})["runs"][0]["tool"]["driver"]["rules"]
    assert rule["shortDescription"]["text"] == "made-up-rule"
    assert rule["help"]["text"].startswith("See the rule's documentation.")


def test_write_reports_writes_the_documented_files(tmp_path: Path) -> None:
    paths = write_reports(["md", "html", "json", "csv", "sarif", "md"], report_input(), tmp_path / "out", rules=RULES)
    assert [p.name for p in paths] == ["report.md", "report.html", "audit.json", "findings.csv", "audit.sarif"]
    assert all(p.stat().st_size > 0 for p in paths)
    assert json.loads((tmp_path / "out" / "audit.json").read_text())["schema"] == "auditor.report/v1"


def test_unknown_format_is_rejected() -> None:
    with pytest.raises(ValueError, match="pdf"):
        render("pdf", report_input(), rules=RULES)
