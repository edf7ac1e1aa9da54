"""security-*: repository security settings that the deployment process relies on.

Both settings are admin-only reads: a token that cannot see them yields `unknown`, never a pass,
because GitHub leaves the fields out instead of answering 403 (see auditor.facts.SecuritySettings).
"""

from __future__ import annotations

from collections.abc import Iterable

from auditor.facts import Gap, SecuritySettings, Workflow
from auditor.model import Scope, Severity
from auditor.rules.base import Context, Need, Outcome, Rule

_NOT_COLLECTED = Gap("the security settings were not collected")
_WORKFLOWS_NOT_COLLECTED = Gap("the workflows were not collected")
WORKFLOWS_DIR_TARGET = "workflow:.github/workflows"


def _settings(rule: Rule, ctx: Context, what: str) -> SecuritySettings | Outcome:
    security = ctx.facts.security
    if security is None:
        return rule.unknown("repo", what, _NOT_COLLECTED)
    return security


def _gap(security: SecuritySettings, *keys: str) -> Gap | str:
    for key in keys:
        if key in security.gaps:
            return security.gaps[key]
    return "the setting could not be observed"


SECURITY_DEPENDABOT_ALERTS = Rule(
    id="security-dependabot-alerts",
    family="security",
    title="Dependabot vulnerability alerts are enabled",
    severity=Severity.MEDIUM,
    scope=Scope.REPO,
    needs=(Need.SECURITY,),
    remediation="Settings > Code security > Dependabot alerts: Enable.",
    permission="Administration: read (GET /repos/{o}/{r}/vulnerability-alerts)",
)


@SECURITY_DEPENDABOT_ALERTS.check
def _dependabot_alerts(ctx: Context) -> Iterable[Outcome]:
    rule = SECURITY_DEPENDABOT_ALERTS
    what = f"Whether Dependabot alerts are enabled on {ctx.facts.repo}"
    security = _settings(rule, ctx, what)
    if isinstance(security, Outcome):
        yield security
    elif security.dependabot_alerts is None:
        yield rule.unknown("repo", what, _gap(security, "dependabot_alerts"))
    elif security.dependabot_alerts:
        yield rule.passed("repo", f"Dependabot alerts are enabled on {ctx.facts.repo}", dependabot_alerts=True)
    else:
        yield rule.failed("repo", f"Dependabot alerts are disabled on {ctx.facts.repo}", dependabot_alerts=False)


SECURITY_WORKFLOW_PERMISSIONS = Rule(
    id="security-workflow-permissions",
    family="security",
    title="GITHUB_TOKEN is read-only by default and workflows declare permissions",
    severity=Severity.MEDIUM,
    scope=Scope.REPO,
    needs=(Need.WORKFLOW_PERMISSIONS, Need.WORKFLOWS),
    remediation="Settings > Actions > General > Workflow permissions: 'Read repository contents and packages "
                "permissions'; and add a `permissions:` block to every workflow (or to each of its jobs).",
    permission="Administration: read (GET /repos/{o}/{r}/actions/permissions/workflow); "
               "Contents: read (workflow files)",
)


def _declares_permissions(wf: Workflow) -> bool:
    """A workflow declares permissions at the top, or on every one of its jobs."""
    if wf.permissions is not None:
        return True
    return bool(wf.jobs) and all(job.permissions is not None for job in wf.jobs)


@SECURITY_WORKFLOW_PERMISSIONS.check
def _workflow_permissions(ctx: Context) -> Iterable[Outcome]:
    """One result for the repository default (target `repo`), then one per workflow file.

    Every workflow gets a result (pass or fail), so a fixed workflow turns green in the history
    instead of silently disappearing; unreadable workflows give one unknown for the directory.
    """
    rule = SECURITY_WORKFLOW_PERMISSIONS
    repo = ctx.facts.repo
    what = f"The default GITHUB_TOKEN permission of {repo}"
    security = _settings(rule, ctx, what)
    if isinstance(security, Outcome):
        yield security
    elif security.default_workflow_permissions is None:
        yield rule.unknown("repo", what, _gap(security, "default_workflow_permissions"))
    elif security.default_workflow_permissions == "read":
        yield rule.passed("repo", f"The default GITHUB_TOKEN permission of {repo} is read-only",
                          default_workflow_permissions="read")
    else:
        yield rule.failed("repo", f"The default GITHUB_TOKEN permission of {repo} is read and write",
                          "Settings > Actions > General > Workflow permissions: choose 'Read repository "
                          "contents and packages permissions'.",
                          default_workflow_permissions=security.default_workflow_permissions)

    workflows = ctx.facts.workflows
    wf_what = f"Whether the workflows of {repo} declare permissions"
    if workflows is None or workflows.gap is not None:
        yield rule.unknown(WORKFLOWS_DIR_TARGET, wf_what, workflows.gap if workflows else _WORKFLOWS_NOT_COLLECTED)
        return
    for wf in workflows.items:
        target = f"workflow:{wf.path}"
        if wf.parse_error is not None:
            yield rule.unknown(target, f"Whether workflow {wf.path} declares permissions",
                               f"the workflow does not parse ({wf.parse_error})", path=wf.path)
        elif _declares_permissions(wf):
            level = "workflow" if wf.permissions is not None else "every job"
            yield rule.passed(target, f"Workflow {wf.path} declares permissions at {level} level",
                              path=wf.path, permissions=wf.permissions, level=level)
        else:
            bare = [job.id for job in wf.jobs if job.permissions is None]
            jobs = f" for jobs {', '.join(bare)}" if bare else ""
            yield rule.failed(target, f"Workflow {wf.path} declares no permissions{jobs}",
                              f"Add `permissions:` (e.g. `contents: read`) at the top of {wf.path}.",
                              path=wf.path, jobs_without_permissions=bare)


RULES = (
    SECURITY_DEPENDABOT_ALERTS,
    SECURITY_WORKFLOW_PERMISSIONS,
)
