"""FactPlan: what the collector must fetch for one policy, derived from the enabled rules.

Collection asks only for the facts the enabled rules declare (`Rule.needs`), for the real branch
and environment names the policy's roles map to, and for the paths their params name.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from auditor.rules.base import Need


@dataclass(frozen=True)
class FactPlan:
    """The collector's shopping list.

    `production_branch` is where file facts (workflows, docs, CODEOWNERS) are read from (None:
    the default branch). `window_days` is the widest evidence window of any enabled rule; `doc_paths` are the files
    whose presence, last change and headings rules read; `watched_globs` the paths whose latest
    change docs-in-sync compares against; `doc_globs` globs matched against the tree.
    """

    needs: frozenset[Need]
    branches: tuple[str, ...] = ()
    environments: tuple[str, ...] = ()
    doc_paths: tuple[str, ...] = ()
    doc_globs: tuple[str, ...] = ()
    watched_globs: tuple[str, ...] = ()
    window_days: int = 30
    production_branch: str | None = None
    extra: dict[str, str] = field(default_factory=dict)

    def wants(self, *needs: Need) -> bool:
        """Whether any of `needs` is in the plan."""
        return any(n in self.needs for n in needs)


FULL_PLAN = FactPlan(
    needs=frozenset(Need),
    branches=("main", "staging"),
    environments=("production", "staging"),
    doc_paths=("README.md", "docs/deployment.md", "docs/rollback.md"),
    watched_globs=(".github/workflows/*",),
    production_branch="main",
)
