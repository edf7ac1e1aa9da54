"""branch-*: protection of each branch role (classic protection merged with active rulesets)."""

from __future__ import annotations

from collections.abc import Iterable

from auditor.model import Scope, Severity
from auditor.rules._common import ADMIN_READ, bool_setting_outcome, resolve_protection
from auditor.rules.base import Context, Need, Outcome, Rule, branch_target

_PROT = (Need.BRANCHES, Need.PROTECTION)
_PERM = f"Contents: read (branch list), {ADMIN_READ} (classic protection); rulesets need Metadata: read"
_SETTINGS = "Settings > Rules > Rulesets (or Settings > Branches)"

BRANCH_EXISTS = Rule(
    id="branch-exists",
    family="branch",
    title="Branch of each role exists",
    severity=Severity.HIGH,
    scope=Scope.BRANCH,
    needs=(Need.BRANCHES,),
    remediation="Create the branch the policy names for this role, or fix the role mapping in the policy.",
    permission="Contents: read",
)


@BRANCH_EXISTS.check
def _branch_exists(ctx: Context) -> Iterable[Outcome]:
    name = ctx.branch or ""
    target = branch_target(name)
    br = ctx.facts.branch(name)
    if br is None or br.exists is None:
        yield BRANCH_EXISTS.unknown(target, f"Whether branch {name} exists",
                                    br.exists_gap if br else "the branch was not collected")
    elif br.exists:
        yield BRANCH_EXISTS.passed(target, f"Branch {name} ({ctx.role}) exists", branch=name, role=ctx.role)
    else:
        yield BRANCH_EXISTS.failed(target, f"Branch {name} ({ctx.role}) does not exist",
                                   f"Create branch {name} or map the {ctx.role} role to an existing branch.",
                                   branch=name, role=ctx.role)


BRANCH_PROTECTED = Rule(
    id="branch-protected",
    family="branch",
    title="Branch has effective protection",
    severity=Severity.CRITICAL,
    scope=Scope.BRANCH,
    needs=_PROT,
    remediation=f"{_SETTINGS}: add a ruleset (or classic protection) that targets this branch and set it Active.",
    permission=_PERM,
)


@BRANCH_PROTECTED.check
def _branch_protected(ctx: Context) -> Iterable[Outcome]:
    yield bool_setting_outcome(
        BRANCH_PROTECTED, ctx, "protected",
        "Whether branch {b} is protected",
        "Branch {b} is protected", "Branch {b} has no classic protection and no active ruleset")


BRANCH_PR_REQUIRED = Rule(
    id="branch-pr-required",
    family="branch",
    title="Changes reach the branch only through pull requests",
    severity=Severity.HIGH,
    scope=Scope.BRANCH,
    needs=_PROT,
    remediation=f"{_SETTINGS}: enable 'Require a pull request before merging'.",
    permission=_PERM,
)


@BRANCH_PR_REQUIRED.check
def _branch_pr_required(ctx: Context) -> Iterable[Outcome]:
    yield bool_setting_outcome(
        BRANCH_PR_REQUIRED, ctx, "pr_required",
        "Whether branch {b} requires pull requests",
        "Branch {b} requires a pull request before merging",
        "Branch {b} accepts direct pushes: no pull request is required")


BRANCH_NO_FORCE_PUSH = Rule(
    id="branch-no-force-push",
    family="branch",
    title="Force pushes are blocked",
    severity=Severity.HIGH,
    scope=Scope.BRANCH,
    needs=_PROT,
    remediation=f"{_SETTINGS}: enable 'Block force pushes' (or untick 'Allow force pushes').",
    permission=_PERM,
)


@BRANCH_NO_FORCE_PUSH.check
def _branch_no_force_push(ctx: Context) -> Iterable[Outcome]:
    yield bool_setting_outcome(
        BRANCH_NO_FORCE_PUSH, ctx, "blocks_force_push",
        "Whether branch {b} blocks force pushes",
        "Branch {b} blocks force pushes", "Branch {b} allows force pushes")


BRANCH_NO_DELETION = Rule(
    id="branch-no-deletion",
    family="branch",
    title="Branch deletion is blocked",
    severity=Severity.MEDIUM,
    scope=Scope.BRANCH,
    needs=_PROT,
    remediation=f"{_SETTINGS}: enable 'Restrict deletions' (or untick 'Allow deletions').",
    permission=_PERM,
)


@BRANCH_NO_DELETION.check
def _branch_no_deletion(ctx: Context) -> Iterable[Outcome]:
    yield bool_setting_outcome(
        BRANCH_NO_DELETION, ctx, "blocks_deletion",
        "Whether branch {b} blocks deletion",
        "Branch {b} cannot be deleted", "Branch {b} can be deleted")


BRANCH_ADMINS_ENFORCED = Rule(
    id="branch-admins-enforced",
    family="branch",
    title="Protection applies to administrators",
    severity=Severity.MEDIUM,
    scope=Scope.BRANCH,
    needs=_PROT,
    remediation=(f"{_SETTINGS}: enable 'Do not allow bypassing the above settings' (classic), or remove "
                 "bypass actors not in the policy's allowed_bypass list from the rulesets."),
    permission=f"{ADMIN_READ} (classic enforce_admins and ruleset bypass actors)",
    params={"allowed_bypass": {"type": "list", "schema": {"type": ["string", "integer"]}, "default": []}},
)


@BRANCH_ADMINS_ENFORCED.check
def _branch_admins_enforced(ctx: Context) -> Iterable[Outcome]:
    rule = BRANCH_ADMINS_ENFORCED
    resolved = resolve_protection(rule, ctx)
    if isinstance(resolved, Outcome):
        yield resolved
        return
    br, prot = resolved
    target = branch_target(br.name)
    if br.classic is not None and br.classic.enforce_admins:
        yield rule.passed(target, f"Branch {br.name} enforces protection for administrators",
                          source="classic")
        return
    allowed = {str(a) for a in ctx.params.get("allowed_bypass", [])}
    ruleset_ids = {r.ruleset_id for r in br.rules}
    infos = {i.id: i for i in br.rulesets}
    clean: list[str] = []
    bypassers: dict[str, list[str]] = {}
    unknown_sets: list[str] = []
    for rid in sorted(ruleset_ids):
        info = infos.get(rid)
        label = info.name if info else str(rid)
        if info is None or info.bypass_actors is None:
            unknown_sets.append(label)
            continue
        extra = [
            a.name or f"{a.actor_type}:{a.actor_id}"
            for a in info.bypass_actors
            if not ({a.name, str(a.actor_id), a.actor_type} & allowed)
        ]
        if extra:
            bypassers[label] = extra
        else:
            clean.append(label)
    if clean:
        yield rule.passed(target, f"Branch {br.name} is protected by ruleset {clean[0]} with no bypass actors "
                          "beyond the allowed list", source=f"ruleset:{clean[0]}", rulesets=clean)
        return
    if not prot.protected.value and prot.protected.gap is None:
        yield rule.failed(target, f"Branch {br.name} is not protected, so nothing applies to administrators",
                          enforce_admins=False)
        return
    if unknown_sets or br.classic_gap is not None:
        gap = br.classic_gap
        if gap is None:
            info = next((infos[r] for r in ruleset_ids if r in infos and infos[r].bypass_gap), None)
            gap = info.bypass_gap if info else None
        yield rule.unknown(target, f"Whether protection of branch {br.name} applies to administrators",
                           gap or "the bypass actors of the rulesets are not visible to this token",
                           rulesets_with_hidden_bypass=unknown_sets, bypass_actors=bypassers)
        return
    detail = "; ".join(k + ": " + ", ".join(v) for k, v in bypassers.items())
    yield rule.failed(target, f"Branch {br.name} protection can be bypassed by administrators"
                      + (f" ({detail})" if detail else ""), enforce_admins=False, bypass_actors=bypassers)


BRANCH_LINEAR_HISTORY = Rule(
    id="branch-linear-history",
    family="branch",
    title="Linear history is required",
    severity=Severity.LOW,
    scope=Scope.BRANCH,
    needs=_PROT,
    remediation=f"{_SETTINGS}: enable 'Require linear history'.",
    permission=_PERM,
)


@BRANCH_LINEAR_HISTORY.check
def _branch_linear_history(ctx: Context) -> Iterable[Outcome]:
    yield bool_setting_outcome(
        BRANCH_LINEAR_HISTORY, ctx, "linear_history",
        "Whether branch {b} requires linear history",
        "Branch {b} requires linear history", "Branch {b} does not require linear history")


BRANCH_SIGNED_COMMITS = Rule(
    id="branch-signed-commits",
    family="branch",
    title="Signed commits are required",
    severity=Severity.LOW,
    scope=Scope.BRANCH,
    needs=_PROT,
    remediation=f"{_SETTINGS}: enable 'Require signed commits'.",
    permission=_PERM,
)


@BRANCH_SIGNED_COMMITS.check
def _branch_signed_commits(ctx: Context) -> Iterable[Outcome]:
    yield bool_setting_outcome(
        BRANCH_SIGNED_COMMITS, ctx, "signed_commits",
        "Whether branch {b} requires signed commits",
        "Branch {b} requires signed commits", "Branch {b} does not require signed commits")


RULES = (
    BRANCH_EXISTS,
    BRANCH_PROTECTED,
    BRANCH_PR_REQUIRED,
    BRANCH_NO_FORCE_PUSH,
    BRANCH_NO_DELETION,
    BRANCH_ADMINS_ENFORCED,
    BRANCH_LINEAR_HISTORY,
    BRANCH_SIGNED_COMMITS,
)
