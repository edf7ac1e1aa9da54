"""docs-*: the deployment documentation exists on the production branch and keeps up with changes.

The process document asks for documented rollback procedures and for deployment documentation
kept up to date with changes to the deployment process; these rules read the last commit touching
each file (and each watched path) on the production branch, as the collector observed it.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime, timedelta

from auditor.facts import DocFile, Docs, Gap
from auditor.model import Scope, Severity, iso
from auditor.rules.base import Context, Need, Outcome, Rule

_PERM = "Contents: read"
_NOT_COLLECTED = Gap("the documentation facts were not collected")
_DEFAULT_DOCS = ["README.md", "docs/deployment.md", "docs/rollback.md"]
_PATHS = {"type": "list", "schema": {"type": "string", "empty": False}, "minlength": 1}


def _file_target(path: str) -> str:
    return f"file:{path}"


def _docs(rule: Rule, ctx: Context, target: str, what: str) -> Docs | Outcome:
    """The docs section, or an unknown outcome when it was not collected or could not be read."""
    docs = ctx.facts.docs
    if docs is None:
        return rule.unknown(target, what, _NOT_COLLECTED)
    if docs.gap is not None:
        return rule.unknown(target, what, docs.gap)
    return docs


def _doc_file(rule: Rule, ctx: Context, path: str, what: str) -> DocFile | Outcome:
    """The collected facts of one doc file, or the unknown outcome to report instead."""
    target = _file_target(path)
    docs = _docs(rule, ctx, target, what)
    if isinstance(docs, Outcome):
        return docs
    doc = docs.file(path)
    if doc is None:
        return rule.unknown(target, what, Gap(f"{path} was not collected"), path=path)
    return doc


DOCS_PRESENT = Rule(
    id="docs-present",
    family="docs",
    title="Deployment documentation exists",
    severity=Severity.MEDIUM,
    scope=Scope.REPO,
    needs=(Need.DOCS,),
    remediation="Write the missing document (deployment steps, rollback procedure) and merge it into the "
                "production branch.",
    permission=_PERM,
    params={"paths": {**_PATHS, "default": list(_DEFAULT_DOCS)}},
)


@DOCS_PRESENT.check
def _docs_present(ctx: Context) -> Iterable[Outcome]:
    rule = DOCS_PRESENT
    ref = ctx.facts.docs.ref if ctx.facts.docs else None
    for path in ctx.params["paths"]:
        doc = _doc_file(rule, ctx, path, f"Whether {path} exists")
        if isinstance(doc, Outcome):
            yield doc
        elif doc.exists:
            yield rule.passed(_file_target(path), f"{path} exists", path=path, ref=ref)
        else:
            where = (f"at pull request #{ctx.facts.pull_request.number}'s head"
                     if ctx.facts.pull_request is not None else "on the production branch")
            yield rule.failed(_file_target(path), f"{path} does not exist {where}",
                              f"Write {path} and merge it into the production branch.", path=path, ref=ref)


DOCS_FRESH = Rule(
    id="docs-fresh",
    family="docs",
    title="Deployment documentation was updated recently",
    severity=Severity.LOW,
    scope=Scope.REPO,
    needs=(Need.DOCS,),
    remediation="Review the document against the current deployment process and commit the update, even if "
                "only to confirm it (e.g. a 'Last reviewed' line).",
    permission=_PERM,
    params={
        "paths": {**_PATHS, "default": list(_DEFAULT_DOCS)},
        "max_age_days": {"type": "integer", "min": 1, "default": 90},
    },
)


@DOCS_FRESH.check
def _docs_fresh(ctx: Context) -> Iterable[Outcome]:
    rule = DOCS_FRESH
    max_age = int(ctx.params["max_age_days"])
    for path in ctx.params["paths"]:
        target = _file_target(path)
        doc = _doc_file(rule, ctx, path, f"When {path} last changed")
        if isinstance(doc, Outcome):
            yield doc
            continue
        if not doc.exists:
            yield rule.not_applicable(target, f"{path} does not exist (docs-present reports it)", path=path)
            continue
        if doc.last_changed_at is None:
            yield rule.unknown(target, f"When {path} last changed",
                               "no commit touching it could be read on the production branch", path=path)
            continue
        age = (ctx.now - doc.last_changed_at).days
        evidence = {"path": path, "last_changed_at": iso(doc.last_changed_at), "age_days": age,
                    "max_age_days": max_age}
        if ctx.now - doc.last_changed_at <= timedelta(days=max_age):
            yield rule.passed(target, f"{path} was last changed {age} days ago (limit {max_age})", **evidence)
        else:
            yield rule.failed(target, f"{path} was last changed {age} days ago, more than {max_age} days ago",
                              f"Review {path} against the current deployment process and commit the update.",
                              **evidence)


DOCS_IN_SYNC = Rule(
    id="docs-in-sync",
    family="docs",
    title="Deployment documentation keeps up with deployment changes",
    severity=Severity.LOW,
    scope=Scope.REPO,
    needs=(Need.DOCS,),
    remediation="Update the deployment documentation to describe the latest workflow and deployment "
                "configuration changes.",
    permission=_PERM,
    params={
        "paths": {**_PATHS, "default": ["docs/deployment.md"]},
        "watched": {**_PATHS, "default": [".github/workflows/*", "deploy/**", "infra/**"]},
        "max_lag_days": {"type": "integer", "min": 0, "default": 30},
    },
)


@DOCS_IN_SYNC.check
def _docs_in_sync(ctx: Context) -> Iterable[Outcome]:
    """One result, targeted at the first of `paths` (the main deployment document).

    Compares the newest change among the docs with the newest change among the watched globs.
    """
    rule = DOCS_IN_SYNC
    paths: list[str] = list(ctx.params["paths"])
    watched_globs: list[str] = list(ctx.params["watched"])
    max_lag = int(ctx.params["max_lag_days"])
    target = _file_target(paths[0])
    what = f"Whether {paths[0]} keeps up with deployment changes"
    docs = _docs(rule, ctx, target, what)
    if isinstance(docs, Outcome):
        yield docs
        return
    doc_times: dict[str, datetime] = {}
    for path in paths:
        doc = docs.file(path)
        if doc is None:
            yield rule.unknown(target, what, Gap(f"{path} was not collected"), paths=paths)
            return
        if doc.exists and doc.last_changed_at is None:
            yield rule.unknown(target, what, f"the last change of {path} could not be read", paths=paths)
            return
        if doc.exists and doc.last_changed_at is not None:
            doc_times[path] = doc.last_changed_at
    changes = {w.glob: w for w in docs.watched}
    missing = [g for g in watched_globs if g not in changes]
    if missing:
        yield rule.unknown(target, what, Gap(f"the watched paths {', '.join(missing)} were not collected"),
                           watched=watched_globs)
        return
    watched_times = [(c.last_changed_at, c) for g in watched_globs
                     if (c := changes[g]).last_changed_at is not None]
    if not watched_times:
        yield rule.not_applicable(target, f"No watched path ({', '.join(watched_globs)}) has ever changed",
                                  watched=watched_globs)
        return
    if not doc_times:
        yield rule.not_applicable(target, f"None of {', '.join(paths)} exists (docs-present reports it)",
                                  paths=paths)
        return
    doc_path, doc_time = max(doc_times.items(), key=lambda kv: kv[1])
    watched_time, latest = max(watched_times, key=lambda pair: pair[0])
    lag = watched_time - doc_time
    evidence = {"doc": doc_path, "doc_changed_at": iso(doc_time), "watched_glob": latest.glob,
                "watched_path": latest.path, "watched_changed_at": iso(watched_time),
                "lag_days": max(lag.days, 0), "max_lag_days": max_lag}
    changed = latest.path or latest.glob
    if lag <= timedelta(days=max_lag):
        yield rule.passed(target, f"{doc_path} was updated within {max_lag} days of the latest change to "
                          f"{changed}", **evidence)
    else:
        yield rule.failed(target, f"{doc_path} was last changed {lag.days} days before the latest change to "
                          f"{changed} (limit {max_lag} days)",
                          f"Update {doc_path} to describe the change to {changed}.", **evidence)


RULES = (
    DOCS_PRESENT,
    DOCS_FRESH,
    DOCS_IN_SYNC,
)
