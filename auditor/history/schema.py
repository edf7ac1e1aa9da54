"""The history's tables, its schema version and the migrations between versions.

Layout, chosen for compactness (see bench/README.md, "History"): a week's result is usually the same
as last week's, so nothing repeated is stored twice. A result row holds only small integers:

* `findings` interns the identity of a finding (repo, rule, target), stable across runs;
* `details` interns, by content hash, what a result says (message, evidence JSON, remediation,
  control, waiver), so an unchanged result points at the row written the first time it was seen;
* `results` is then (run, finding, seq, status code, severity code, detail), keyed by (run, finding)
  and, on SQLite, stored WITHOUT ROWID so the key is the row.

Trend queries read results by run (the primary key) or by finding over time (`ix_results_finding`).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Date,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    SmallInteger,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.types import TypeDecorator

from auditor.model import Severity, Status

#: The schema this code writes. Bump it and append a migration when the tables change.
SCHEMA_VERSION = 2

#: Small integer codes for statuses and severities; stable forever (they are stored), append only.
STATUS_CODES: dict[Status, int] = {s: i for i, s in enumerate(
    (Status.PASS, Status.FAIL, Status.UNKNOWN, Status.NOT_APPLICABLE, Status.WAIVED, Status.ERROR))}
STATUS_BY_CODE: dict[int, Status] = {v: k for k, v in STATUS_CODES.items()}
SEVERITY_CODES: dict[Severity, int] = {s: i for i, s in enumerate(
    (Severity.INFO, Severity.LOW, Severity.MEDIUM, Severity.HIGH, Severity.CRITICAL))}
SEVERITY_BY_CODE: dict[int, Severity] = {v: k for k, v in SEVERITY_CODES.items()}


class UtcDateTime(TypeDecorator[datetime]):
    """Aware UTC datetimes in, aware UTC datetimes out, whatever the database keeps.

    SQLite has no time zones; storing naive UTC everywhere keeps SQLite and PostgreSQL identical.
    """

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: Any, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if isinstance(value, str):  # raw SQL paths on SQLite
            value = datetime.fromisoformat(value)
        assert isinstance(value, datetime)
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


metadata = MetaData()

schema_version = Table(
    "schema_version", metadata,
    Column("version", Integer, nullable=False),
)

runs = Table(
    "runs", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("id", String(200), nullable=False, unique=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime),
    Column("tool_version", String(64), nullable=False),
    Column("policy_name", Text, nullable=False),
    Column("policy_version", Integer, nullable=False),
    Column("policy_digest", Text, nullable=False),
    Column("api_requests", Integer, nullable=False, default=0),
    Column("api_rate_limit_used", Integer, nullable=False, default=0),
    Column("api_retries", Integer, nullable=False, default=0),
    Column("api_not_modified", Integer, nullable=False, default=0),
    Column("api_graphql_points", Integer, nullable=False, default=0),
    Column("scope", Text, nullable=False),
    Column("complete", Boolean, nullable=False, default=False),
    # The policy's waivers as JSON (v2): a report rebuilt from the history alone lists them too.
    Column("policy_waivers", Text),
)
Index("ix_runs_started_at", runs.c.started_at)

repos = Table(
    "repos", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("name", String(300), nullable=False, unique=True),
)

rules = Table(
    "rules", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("name", String(200), nullable=False),
    Column("family", String(100), nullable=False),
    UniqueConstraint("name", "family", name="uq_rules_name_family"),
)

findings = Table(
    "findings", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("repo_pk", Integer, ForeignKey("repos.pk"), nullable=False),
    Column("rule_pk", Integer, ForeignKey("rules.pk"), nullable=False),
    Column("target", Text, nullable=False),
    UniqueConstraint("repo_pk", "rule_pk", "target", name="uq_findings_key"),
)

details = Table(
    "details", metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("digest", LargeBinary(16), nullable=False, unique=True),
    Column("message", Text, nullable=False),
    Column("evidence", Text, nullable=False),
    Column("remediation", Text, nullable=False),
    Column("control", Text),
    Column("waiver_owner", Text),
    Column("waiver_reason", Text),
    Column("waiver_expires", Date),
    Column("waiver_expired", Boolean),
)

results = Table(
    "results", metadata,
    Column("run_pk", Integer, ForeignKey("runs.pk", ondelete="CASCADE"), nullable=False),
    Column("finding_pk", Integer, ForeignKey("findings.pk"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("status", SmallInteger, nullable=False),
    Column("severity", SmallInteger, nullable=False),
    Column("detail_pk", Integer, ForeignKey("details.pk"), nullable=False),
    PrimaryKeyConstraint("run_pk", "finding_pk", name="pk_results"),
    sqlite_with_rowid=False,
)
Index("ix_results_finding", results.c.finding_pk, results.c.run_pk)

repo_summaries = Table(
    "repo_summaries", metadata,
    Column("run_pk", Integer, ForeignKey("runs.pk", ondelete="CASCADE"), nullable=False),
    Column("repo_pk", Integer, ForeignKey("repos.pk"), nullable=False),
    Column("seq", Integer, nullable=False),
    Column("status", String(20), nullable=False),
    Column("score", Float),
    Column("coverage", Float),
    Column("counts", Text, nullable=False),
    Column("error", Text),
    PrimaryKeyConstraint("run_pk", "repo_pk", name="pk_repo_summaries"),
)


def _create_v1(conn: Connection) -> None:
    metadata.create_all(conn)


#: MIGRATIONS[i] takes a database from version i to i + 1. A fresh database is created at
#: SCHEMA_VERSION directly from `metadata`; migrations only ever run on existing databases.
def _v1_to_v2(conn: Connection) -> None:
    conn.exec_driver_sql("ALTER TABLE runs ADD COLUMN policy_waivers TEXT")


MIGRATIONS: tuple[Callable[[Connection], None], ...] = (_create_v1, _v1_to_v2)
