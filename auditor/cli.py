"""The `auditor` command line: argument parsing and wiring; the only place that exits.

Exit codes (docs/cli.md): 0 nothing at or above the gate failed; 1 findings at or above the gate
failed; 2 usage or policy error (nothing was collected); 3 the audit could not run.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from collections.abc import Sequence
from typing import Any

from github import GithubException
from jwt.exceptions import PyJWTError
from sqlalchemy.exc import DatabaseError

from auditor import __version__
from auditor.history import HistoryError
from auditor.policy import PolicyError, load_policy
from auditor.rules import ALL_RULES
from auditor.sandbox.spec import WorldError

EXIT_OK, EXIT_FINDINGS, EXIT_USAGE, EXIT_CANNOT_RUN = 0, 1, 2, 3


class UsageError(Exception):
    """A mistake in how the command was called (exit 2)."""


class CannotRun(Exception):
    """The audit could not run: authentication failed, API unreachable (exit 3)."""


# --------------------------------------------------------------------------------------------
# policy


def cmd_policy_validate(args: argparse.Namespace) -> int:
    """Validate each policy file; print every problem with its place; exit 2 if any is broken."""
    broken = 0
    for ref in args.files:
        try:
            policy = load_policy(ref)
        except PolicyError as exc:
            broken += 1
            print(f"{ref}: INVALID ({len(exc.problems)} problem{'s' if len(exc.problems) != 1 else ''})",
                  file=sys.stderr)
            for problem in exc.problems:
                print(f"  {problem}", file=sys.stderr)
            continue
        enabled = len(policy.enabled_rules)
        print(f"{ref}: OK: policy {policy.name} v{policy.version}, {enabled} rules enabled, "
              f"{len(policy.waivers)} waivers, gate fails on {policy.gate.fail_on.value} ({policy.digest[:19]})")
    return EXIT_USAGE if broken else EXIT_OK


def _rule_rows() -> list[dict[str, Any]]:
    return [{
        "id": r.id, "family": r.family, "title": r.title, "scope": r.scope.value,
        "severity": r.severity.value, "needs": [n.value for n in r.needs], "permission": r.permission,
        "params": {k: v.get("default") for k, v in r.params.items()},
        "docs": f"docs/rules/{r.id}.md",
    } for r in ALL_RULES]


def cmd_policy_rules(args: argparse.Namespace) -> int:
    """List every rule with its family, scope, default severity, params and docs page."""
    rows = _rule_rows()
    if args.json:
        print(json.dumps(rows, indent=2))
        return EXIT_OK
    width = max(len(r["id"]) for r in rows)
    print(f"{'RULE':<{width}}  {'FAMILY':<9} {'SCOPE':<11} {'SEVERITY':<8}  PARAMS (defaults)")
    for r in rows:
        params = ", ".join(f"{k}={json.dumps(v)}" for k, v in r["params"].items()) or "-"
        print(f"{r['id']:<{width}}  {r['family']:<9} {r['scope']:<11} {r['severity']:<8}  {params}")
    print(f"\n{len(rows)} rules. Each has a page at docs/rules/<id>.md.")
    return EXIT_OK


# --------------------------------------------------------------------------------------------
# wiring


def _github_message(exc: GithubException) -> str:
    """GitHub's `message` from a PyGithub exception (never its headers or request)."""
    data = exc.data
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])[:200]
    return "no message"


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser (kept in one place so --help documents everything)."""
    parser = argparse.ArgumentParser(
        prog="auditor",
        description="Audit GitHub repositories against your deployment process, written as a policy.",
        epilog="Exit codes: 0 ok, 1 findings at or above the gate, 2 usage/policy error, 3 could not run.")
    parser.add_argument("--version", action="version", version=f"auditor {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    pol = sub.add_parser("policy", help="validate policies; list rules")
    pol_sub = pol.add_subparsers(dest="policy_command", metavar="SUBCOMMAND")
    val = pol_sub.add_parser("validate", help="validate policy files (every problem, with its place)")
    val.add_argument("files", nargs="+", metavar="FILE", help="policy files or shipped policy names")
    val.set_defaults(func=cmd_policy_validate)
    rules = pol_sub.add_parser("rules", help="list every rule with family, severity, params and docs")
    rules.add_argument("--json", action="store_true", help="machine-readable output")
    rules.set_defaults(func=cmd_policy_rules)

    from auditor import commands  # the audit/check/report/doctor/demo commands register themselves

    commands.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # argparse exits 2 on usage errors and 0 on --help
        return int(exc.code or 0)
    if not getattr(args, "func", None):
        parser.print_help()
        return EXIT_USAGE
    verbose = getattr(args, "verbose", False)
    quiet = getattr(args, "quiet", False)
    logging.basicConfig(level=logging.DEBUG if verbose else logging.WARNING if quiet else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    if not verbose:
        for noisy in ("urllib3", "github"):
            logging.getLogger(noisy).setLevel(logging.WARNING)
    try:
        code: int = args.func(args)
    except PolicyError as exc:
        print("policy error:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_USAGE
    except UsageError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CannotRun as exc:
        print(f"error: the audit could not run: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except HistoryError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except WorldError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except DatabaseError as exc:
        # A damaged history file (not a database, truncated, foreign tables) fails inside SQLAlchemy,
        # on open or on the first query; say which file and what, without a traceback.
        print(f"error: the history database cannot be used: {exc.orig or exc}. Point --history at another "
              "file, or restore this one from a backup.", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except PyJWTError:
        # A GitHub App key PyJWT cannot use (truncated, not a private key) fails while PyGithub signs
        # its first request. The exception's text may quote the key's problems; print a fixed sentence.
        print("error: the audit could not run: GITHUB_APP_PRIVATE_KEY is not a usable RSA private key "
              "(PEM text or a path to one)", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except GithubException as exc:
        # PyGithub raises on its own for a GitHub App whose installation token cannot be obtained
        # (the token exchange happens inside its auth, outside the client's retry loop). Without this
        # the run would die with a traceback and exit 1, which means "findings" to a CI gate.
        print(f"error: the audit could not run: GitHub refused the credentials (HTTP {exc.status}: "
              f"{_github_message(exc)})", file=sys.stderr)
        return EXIT_CANNOT_RUN
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return code


if __name__ == "__main__":
    # Under `python -m auditor.cli` this file runs as `__main__`, a second copy of the module whose
    # UsageError/CannotRun are not the ones commands.py raises (those come from `auditor.cli`), so
    # they would escape as tracebacks. Run the canonical module's `main` instead.
    from auditor.cli import main as _canonical_main

    sys.exit(_canonical_main())
