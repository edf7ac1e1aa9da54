"""reviews-*: required reviews on each branch role, and evidence that merged work was reviewed.

The settings rules read effective protection (classic merged with active rulesets). The evidence
rule looks at what actually happened: settings can be bypassed by administrators or changed after
the fact, so the merged pull requests themselves say whether review took place.

The evidence helpers it shares with `checks-evidence` and the flow rules are in `_evidence.py`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from auditor.facts import Gap, PullRequest, Review
from auditor.model import Scope, Severity, Status
from auditor.rules._common import ADMIN_READ, bool_setting_outcome, resolve_protection
from auditor.rules._evidence import LIST_CAP, PR_READ, RATIO_PARAM, WINDOW_PARAM, merged_prs, percent, tally
from auditor.rules.base import Context, Need, Outcome, Rule, branch_target

_PROT = (Need.BRANCHES, Need.PROTECTION)
_PERM = f"Contents: read (branch list), {ADMIN_READ} (classic protection); rulesets need Metadata: read"
_SETTINGS = "Settings > Rules > Rulesets (or Settings > Branches)"

CONTENTS_READ = "Contents: read"
_CODEOWNERS_NOT_COLLECTED = Gap("CODEOWNERS was not collected", CONTENTS_READ)
# Review states that set a reviewer's verdict; COMMENTED leaves an earlier approval standing, as
# GitHub's own review decision does.
_DECISIVE = frozenset({"APPROVED", "CHANGES_REQUESTED", "DISMISSED"})


# --------------------------------------------------------------------------------------------
# Settings


REVIEWS_REQUIRED_APPROVALS = Rule(
    id="reviews-required-approvals",
    family="reviews",
    title="Branch requires approving reviews",
    severity=Severity.HIGH,
    scope=Scope.BRANCH,
    needs=_PROT,
    remediation=(f"{_SETTINGS}: enable 'Require a pull request before merging' and set 'Required "
                 "approvals' to at least the policy's min_approvals."),
    permission=_PERM,
    params={"min_approvals": {"type": "integer", "min": 0, "default": 1}},
)


@REVIEWS_REQUIRED_APPROVALS.check
def _reviews_required_approvals(ctx: Context) -> Iterable[Outcome]:
    rule = REVIEWS_REQUIRED_APPROVALS
    resolved = resolve_protection(rule, ctx)
    if isinstance(resolved, Outcome):
        yield resolved
        return
    br, prot = resolved
    wanted = int(ctx.params["min_approvals"])
    setting = prot.approvals
    target = branch_target(br.name)
    if setting.value >= wanted:
        yield rule.passed(target, f"Branch {br.name} requires {setting.value} approving review(s), "
                          f"at least {wanted}", required=wanted, **setting.evidence())
    elif setting.gap is not None:
        yield rule.unknown(target, f"How many approving reviews branch {br.name} requires", setting.gap,
                           required=wanted, **setting.evidence())
    else:
        yield rule.failed(target, f"Branch {br.name} requires {setting.value} approving review(s), "
                          f"fewer than {wanted}", required=wanted, **setting.evidence())


REVIEWS_CODE_OWNERS = Rule(
    id="reviews-code-owners",
    family="reviews",
    title="Code owners must review changes",
    severity=Severity.MEDIUM,
    scope=Scope.BRANCH,
    needs=(*_PROT, Need.CODEOWNERS),
    remediation=(f"{_SETTINGS}: enable 'Require review from Code Owners', and keep a valid CODEOWNERS "
                 "file at the root, in .github/ or in docs/ (fix every error GitHub shows on it)."),
    permission=f"{_PERM}; {CONTENTS_READ} (CODEOWNERS and its errors)",
)


@REVIEWS_CODE_OWNERS.check
def _reviews_code_owners(ctx: Context) -> Iterable[Outcome]:
    rule = REVIEWS_CODE_OWNERS
    resolved = resolve_protection(rule, ctx)
    if isinstance(resolved, Outcome):
        yield resolved
        return
    br, prot = resolved
    target = branch_target(br.name)
    setting = prot.code_owner_reviews
    evidence: dict[str, Any] = {"code_owner_review": setting.evidence()}
    problems: list[str] = []
    gaps: list[tuple[str, Gap]] = []
    path = ""

    if not setting.value:
        if setting.gap is not None:
            gaps.append(("whether code owner review is required", setting.gap))
        else:
            problems.append("code owner review is not required")

    owners = ctx.facts.codeowners
    if owners is None or owners.gap is not None:
        missing = owners.gap if owners and owners.gap else _CODEOWNERS_NOT_COLLECTED
        gaps.append(("whether a CODEOWNERS file exists", missing))
    elif owners.path is None:
        problems.append("there is no CODEOWNERS file")
    else:
        path = owners.path
        evidence["codeowners"] = path
        if owners.errors is None:
            gaps.append((f"whether {owners.path} has errors",
                         owners.errors_gap or Gap("CODEOWNERS errors were not collected", CONTENTS_READ)))
        elif owners.errors:
            evidence["codeowners_errors"] = [f"line {e.line}: {e.kind}" for e in owners.errors[:LIST_CAP]]
            problems.append(f"GitHub reports {len(owners.errors)} error(s) in {owners.path}")

    if problems:
        yield rule.failed(target, f"Branch {br.name} is not guarded by code owners: " + "; ".join(problems),
                          **evidence)
    elif gaps:
        what, gap = gaps[0]
        yield rule.unknown(target, f"For branch {br.name}, {what}", gap,
                           unobserved=[w for w, _ in gaps], **evidence)
    else:
        yield rule.passed(target, f"Branch {br.name} requires code owner review and {path} has no errors",
                          **evidence)


REVIEWS_DISMISS_STALE = Rule(
    id="reviews-dismiss-stale",
    family="reviews",
    title="New commits dismiss stale approvals",
    severity=Severity.MEDIUM,
    scope=Scope.BRANCH,
    needs=_PROT,
    remediation=f"{_SETTINGS}: enable 'Dismiss stale pull request approvals when new commits are pushed'.",
    permission=_PERM,
)


@REVIEWS_DISMISS_STALE.check
def _reviews_dismiss_stale(ctx: Context) -> Iterable[Outcome]:
    yield bool_setting_outcome(
        REVIEWS_DISMISS_STALE, ctx, "dismiss_stale",
        "Whether branch {b} dismisses stale approvals",
        "Branch {b} dismisses approvals when new commits are pushed",
        "Branch {b} keeps approvals after new commits are pushed")


REVIEWS_LAST_PUSH_APPROVAL = Rule(
    id="reviews-last-push-approval",
    family="reviews",
    title="The most recent push is approved by someone else",
    severity=Severity.MEDIUM,
    scope=Scope.BRANCH,
    needs=_PROT,
    remediation=f"{_SETTINGS}: enable 'Require approval of the most recent reviewable push'.",
    permission=_PERM,
)


@REVIEWS_LAST_PUSH_APPROVAL.check
def _reviews_last_push_approval(ctx: Context) -> Iterable[Outcome]:
    yield bool_setting_outcome(
        REVIEWS_LAST_PUSH_APPROVAL, ctx, "last_push_approval",
        "Whether branch {b} requires approval of the most recent push",
        "Branch {b} requires someone other than the pusher to approve the most recent push",
        "Branch {b} lets the author of the most recent push merge without another approval")


# --------------------------------------------------------------------------------------------
# Evidence


REVIEWS_EVIDENCE = Rule(
    id="reviews-evidence",
    family="reviews",
    title="Merged pull requests were approved by others",
    severity=Severity.HIGH,
    scope=Scope.BRANCH,
    needs=(Need.PULL_REQUESTS,),
    remediation=("Require approving reviews on the branch and stop merging without them (including "
                 "administrator bypasses); look at the failing pull requests for how they got merged."),
    permission=PR_READ,
    params={
        "window_days": WINDOW_PARAM,
        "min_approvals": {"type": "integer", "min": 1, "default": 1},
        "min_ratio": RATIO_PARAM,
    },
)


def approvers(pr: PullRequest) -> frozenset[str] | None:
    """Logins (lower-case) other than the author whose latest decisive review before merge approves.

    None when the reviews are unknown.
    """
    if pr.reviews is None:
        return None
    latest: dict[str, Review] = {}
    for review in pr.reviews:
        if (review.state not in _DECISIVE or review.submitted_at is None or pr.merged_at is None
                or review.submitted_at > pr.merged_at or review.author.lower() == pr.author.lower()):
            continue
        key = review.author.lower()
        seen = latest.get(key)
        if seen is None or seen.submitted_at is None or review.submitted_at >= seen.submitted_at:
            latest[key] = review
    return frozenset(k for k, r in latest.items() if r.state == "APPROVED")


@REVIEWS_EVIDENCE.check
def _reviews_evidence(ctx: Context) -> Iterable[Outcome]:
    rule = REVIEWS_EVIDENCE
    name = ctx.branch or ""
    target = branch_target(name)
    days = int(ctx.params["window_days"])
    needed = int(ctx.params["min_approvals"])
    min_ratio = float(ctx.params["min_ratio"])
    prs = merged_prs(rule, ctx, name, target, days)
    if isinstance(prs, Outcome):
        yield prs
        return
    if not prs:
        yield rule.not_applicable(target, f"No pull request was merged into {name} in the last {days} days",
                                  window_days=days)
        return

    def judge(pr: PullRequest) -> tuple[bool | None, Gap | None]:
        got = approvers(pr)
        if got is None:
            return None, pr.reviews_gap or Gap(f"the reviews of pull request #{pr.number} were not collected",
                                               PR_READ)
        return len(got) >= needed, None

    counted = tally(prs, judge)
    evidence = counted.evidence(min_ratio, days) | {"min_approvals": needed}
    share = f"{len(counted.good)} of {counted.total} pull requests merged into {name} in the last {days} days"
    status = counted.verdict(min_ratio)
    if status is Status.PASS:
        yield rule.passed(target, f"{share} had {needed} approval(s) from someone other than the author",
                          **evidence)
    elif status is Status.FAIL:
        yield rule.failed(target, f"Only {share} had {needed} approval(s) from someone other than the "
                          f"author, below {percent(min_ratio)}", **evidence)
    else:
        yield rule.unknown(target, f"Whether {percent(min_ratio)} of pull requests merged into {name} were "
                           "approved", counted.gap, **evidence)


RULES = (
    REVIEWS_REQUIRED_APPROVALS,
    REVIEWS_CODE_OWNERS,
    REVIEWS_DISMISS_STALE,
    REVIEWS_LAST_PUSH_APPROVAL,
    REVIEWS_EVIDENCE,
)
