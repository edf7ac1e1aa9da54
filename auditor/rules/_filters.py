"""GitHub Actions filter patterns (`on.<event>.branches`, `paths`), matched the way GitHub does.

GitHub's globs differ from fnmatch: `*` stops at `/` while `**` crosses it, and `?` / `+` mean
"zero or one" / "one or more" of the preceding character. A `release/*` filter must not admit
`release/x/y`, so fnmatch would over-match. Shared by every rule that asks whether a workflow runs
for a branch (checks-*, deploy-*).
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from auditor.facts import Trigger


@functools.lru_cache(maxsize=1024)
def glob_regex(pattern: str, ignore_case: bool = False) -> re.Pattern[str]:
    """A GitHub filter pattern as a compiled regex (use `fullmatch`)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        char = pattern[i]
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")  # `**/README.md` also matches README.md at the root
            i += 3
            continue
        if pattern.startswith("**", i):
            out.append(".*")
            i += 2
            continue
        if char == "*":
            out.append("[^/]*")
        elif char in "?+" and out and out[-1] not in (".*", "[^/]*", "(?:.*/)?"):
            out.append(char)
        elif char == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(char))
            else:
                out.append("[" + pattern[i + 1:end].replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(char))
        i += 1
    return re.compile("".join(out), re.IGNORECASE if ignore_case else 0)


def path_matches(path: str, globs: Sequence[str]) -> bool:
    """Whether a repository path matches any of the path globs (`docs/**`, `.github/workflows/*`)."""
    return any(glob_regex(g).fullmatch(path) for g in globs)


def filter_admits(patterns: Sequence[str], name: str) -> bool:
    """Whether an ordered filter list admits `name`: later `!pattern` entries exclude earlier matches."""
    admitted = False
    for pattern in patterns:
        if pattern.startswith("!"):
            if admitted and glob_regex(pattern[1:]).fullmatch(name):
                admitted = False
        elif glob_regex(pattern).fullmatch(name):
            admitted = True
    return admitted


def trigger_admits(trigger: Trigger, branch: str) -> bool:
    """Whether a push / pull_request-like trigger fires for `branch` (no filter: every branch)."""
    if trigger.branches is not None and not filter_admits(trigger.branches, branch):
        return False
    return not (trigger.branches_ignore is not None and filter_admits(trigger.branches_ignore, branch))
