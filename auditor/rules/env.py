"""env-*: deployment environments and their protection rules, once per environment role.

An environment role and the branch role of the same name belong together (the `production`
environment is deployed from the `production` branch), which is what `env-branch-policy` checks.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from auditor.facts import Environment, Gap
from auditor.model import Scope, Severity, Status
from auditor.protection import effective_protection
from auditor.rules._common import ADMIN_READ
from auditor.rules._filters import glob_regex
from auditor.rules.base import Context, Need, Outcome, Rule, env_target

ACTIONS_READ = "Actions: read"
_SETTINGS = "Settings > Environments"
_NOT_COLLECTED = Gap("the environments were not collected", ACTIONS_READ)


def _env_name(ctx: Context) -> str:
    """The real name of the environment under evaluation (the role itself if the policy maps none)."""
    return ctx.environment or ctx.role or ""


def resolve_environment(rule: Rule, ctx: Context) -> Environment | Outcome:
    """The environment being evaluated, or the outcome to report instead.

    Unknown when the environment list was not collected or could not be read; not_applicable
    when the environment does not exist (`env-exists` reports that as the failure).
    """
    name = _env_name(ctx)
    target = env_target(name)
    envs = ctx.facts.environments
    if envs is None or envs.gap is not None:
        gap = _NOT_COLLECTED if envs is None else envs.gap
        return rule.unknown(target, f"Environment {name}", gap)
    env = envs.get(name)
    if env is None:
        return rule.not_applicable(target, f"Environment {name} does not exist", environment=name)
    return env


ENV_EXISTS = Rule(
    id="env-exists",
    family="env",
    title="Environment of each role exists",
    severity=Severity.HIGH,
    scope=Scope.ENVIRONMENT,
    needs=(Need.ENVIRONMENTS,),
    remediation=f"{_SETTINGS} > New environment: create the environment the policy names for this role, "
                "or fix the role mapping in the policy.",
    permission=ACTIONS_READ,
)


@ENV_EXISTS.check
def _env_exists(ctx: Context) -> Iterable[Outcome]:
    rule = ENV_EXISTS
    resolved = resolve_environment(rule, ctx)
    name = _env_name(ctx)
    if isinstance(resolved, Environment):
        yield rule.passed(env_target(resolved.name), f"Environment {resolved.name} ({ctx.role}) exists",
                          environment=resolved.name, role=ctx.role)
    elif resolved.status is Status.NOT_APPLICABLE:
        yield rule.failed(env_target(name), f"Environment {name} ({ctx.role}) does not exist",
                          f"Create environment {name} or map the {ctx.role} role to an existing environment.",
                          environment=name, role=ctx.role)
    else:
        yield resolved


ENV_REQUIRED_REVIEWERS = Rule(
    id="env-required-reviewers",
    family="env",
    title="Environment requires reviewers",
    severity=Severity.HIGH,
    scope=Scope.ENVIRONMENT,
    needs=(Need.ENVIRONMENTS,),
    remediation=f"{_SETTINGS} > (environment) > Deployment protection rules: enable 'Required reviewers', "
                "add enough reviewers and tick 'Prevent self-review'.",
    permission=ACTIONS_READ,
    params={
        "min_reviewers": {"type": "integer", "min": 0, "default": 1},
        "prevent_self_review": {"type": "boolean", "default": True},
    },
)


@ENV_REQUIRED_REVIEWERS.check
def _env_required_reviewers(ctx: Context) -> Iterable[Outcome]:
    rule = ENV_REQUIRED_REVIEWERS
    env = resolve_environment(rule, ctx)
    if isinstance(env, Outcome):
        yield env
        return
    target = env_target(env.name)
    wanted = int(ctx.params.get("min_reviewers", 1))
    no_self = bool(ctx.params.get("prevent_self_review", True))
    count = len(env.reviewers)
    evidence: dict[str, Any] = {"reviewers": list(env.reviewers), "actual": count, "expected": wanted,
                "prevent_self_review": env.prevent_self_review}
    if count < wanted:
        yield rule.failed(target, f"Environment {env.name} requires {count} reviewer(s), fewer than {wanted}",
                          **evidence)
    elif no_self and count > 0 and not env.prevent_self_review:
        yield rule.failed(target, f"Environment {env.name} lets the person who triggered a deployment "
                          "approve it (self-review is not prevented)",
                          f"{_SETTINGS} > {env.name}: tick 'Prevent self-review'.", **evidence)
    else:
        yield rule.passed(target, f"Environment {env.name} requires {count} reviewer(s)"
                          + (" and prevents self-review" if env.prevent_self_review else ""), **evidence)


ENV_WAIT_TIMER = Rule(
    id="env-wait-timer",
    family="env",
    title="Environment waits before deploying",
    severity=Severity.LOW,
    scope=Scope.ENVIRONMENT,
    needs=(Need.ENVIRONMENTS,),
    remediation=f"{_SETTINGS} > (environment) > Deployment protection rules: enable 'Wait timer' with at "
                "least the policy's minutes.",
    permission=ACTIONS_READ,
    params={"min_minutes": {"type": "integer", "min": 0, "max": 43200, "default": 0}},
)


@ENV_WAIT_TIMER.check
def _env_wait_timer(ctx: Context) -> Iterable[Outcome]:
    rule = ENV_WAIT_TIMER
    env = resolve_environment(rule, ctx)
    if isinstance(env, Outcome):
        yield env
        return
    target = env_target(env.name)
    wanted = int(ctx.params.get("min_minutes", 0))
    if env.wait_timer >= wanted:
        yield rule.passed(target, f"Environment {env.name} waits {env.wait_timer} minute(s), at least "
                          f"{wanted}",
                          actual=env.wait_timer, expected=wanted)
    else:
        yield rule.failed(target, f"Environment {env.name} waits {env.wait_timer} minute(s), fewer than "
                          f"{wanted}",
                          actual=env.wait_timer, expected=wanted)


ENV_BRANCH_POLICY = Rule(
    id="env-branch-policy",
    family="env",
    title="Environment deploys only from its role's branch",
    severity=Severity.HIGH,
    scope=Scope.ENVIRONMENT,
    needs=(Need.ENVIRONMENTS, Need.BRANCHES, Need.PROTECTION),
    remediation=f"{_SETTINGS} > (environment) > Deployment branches and tags: choose 'Selected branches "
                "and tags' and add only the branch of this role.",
    permission=f"{ACTIONS_READ} (environment and its deployment branch policies); {ADMIN_READ} and "
               "Metadata: read (protection of the other role branches)",
)


def _custom_policy(rule: Rule, ctx: Context, env: Environment, own: str) -> Outcome:
    """Custom patterns: every pattern must match the role's branch and no other role's branch."""
    target = env_target(env.name)
    if env.branch_patterns is None:
        return rule.unknown(target, f"The deployment branch patterns of environment {env.name}",
                            env.branch_patterns_gap, branch_policy="custom")
    patterns = list(env.branch_patterns)
    others = sorted({b for b in ctx.branches.values() if b != own})
    if not patterns:
        return rule.failed(target, f"Environment {env.name} has a custom branch policy with no patterns, "
                           f"so branch {own} cannot deploy to it", branch_policy="custom", patterns=[])
    # GitHub's deployment branch patterns: `*` does not match `/` (release/* admits release/x only).
    misses = [p for p in patterns if not glob_regex(p).fullmatch(own)]
    leaks = {p: [b for b in others if glob_regex(p).fullmatch(b)] for p in patterns}
    leaks = {p: bs for p, bs in leaks.items() if bs}
    evidence: dict[str, Any] = {"branch_policy": "custom", "patterns": patterns, "branch": own}
    if leaks:
        detail = "; ".join(f"{p} admits {', '.join(bs)}" for p, bs in leaks.items())
        return rule.failed(target, f"Environment {env.name} can be deployed from other role branches "
                           f"({detail})",
                           leaks=leaks, **evidence)
    if misses:
        return rule.failed(target, f"Environment {env.name} has branch patterns that do not name branch "
                           f"{own} ({', '.join(misses)})", not_matching=misses, **evidence)
    return rule.passed(target, f"Environment {env.name} can be deployed only from branch {own}", **evidence)


def _protected_policy(rule: Rule, ctx: Context, env: Environment, own: str) -> Outcome:
    """Protected-branches policy: safe only if no other role branch is protected."""
    target = env_target(env.name)
    protected: list[str] = []
    unseen: dict[str, Gap] = {}
    for other in sorted({b for b in ctx.branches.values() if b != own}):
        br = ctx.facts.branch(other)
        if br is None:
            unseen[other] = Gap("the branch was not collected")
            continue
        if br.exists is None:
            unseen[other] = br.exists_gap or Gap("whether the branch exists is unknown")
            continue
        if not br.exists:
            continue
        setting = effective_protection(br).protected
        if setting.value:
            protected.append(other)
        elif setting.gap is not None:
            unseen[other] = setting.gap
    evidence: dict[str, Any] = {"branch_policy": "protected", "branch": own}
    if protected:
        return rule.failed(target, f"Environment {env.name} accepts any protected branch, and other role "
                           f"branches are protected ({', '.join(protected)})",
                           protected_branches=protected, **evidence)
    if unseen:
        first = next(iter(unseen.values()))
        return rule.unknown(target, f"Whether other role branches can deploy to environment {env.name}",
                            first, unobserved_branches=sorted(unseen), **evidence)
    return rule.passed(target, f"Environment {env.name} accepts protected branches only, and no other role "
                       f"branch is protected", **evidence)


@ENV_BRANCH_POLICY.check
def _env_branch_policy(ctx: Context) -> Iterable[Outcome]:
    rule = ENV_BRANCH_POLICY
    env = resolve_environment(rule, ctx)
    if isinstance(env, Outcome):
        yield env
        return
    target = env_target(env.name)
    own = ctx.branches.get(ctx.role or "")
    if own is None:
        yield rule.not_applicable(target, f"The policy maps no branch to role {ctx.role}, so environment "
                                  f"{env.name} has no branch to be limited to", role=ctx.role)
    elif env.branch_policy is None:
        yield rule.failed(target, f"Environment {env.name} can be deployed from any branch",
                          branch_policy=None, branch=own)
    elif env.branch_policy == "custom":
        yield _custom_policy(rule, ctx, env, own)
    else:
        yield _protected_policy(rule, ctx, env, own)


RULES = (
    ENV_EXISTS,
    ENV_REQUIRED_REVIEWERS,
    ENV_WAIT_TIMER,
    ENV_BRANCH_POLICY,
)
