"""Load a policy YAML file: parse, resolve `extends`, validate with cerberus, build a Policy.

Every problem is collected and reported at once, each with its place in the file
(`policy.yml:12: rules.reviews-required-approvals.params.min_approvals: must be of integer type`),
so an author fixes a broken policy in one round rather than one error per run.
"""

from __future__ import annotations

import contextlib
import copy
import difflib
import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from cerberus import Validator

from auditor.model import Scope, Severity
from auditor.policy.model import Gate, Policy, PolicyError, RuleConfig, ScopeSelector, Waiver
from auditor.rules import RULES_BY_ID
from auditor.rules.base import Rule

SEVERITIES = [s.value for s in Severity]
_ROLE = {"type": "string", "regex": r"^[A-Za-z0-9_.\-]+$"}
_TARGETS = {"type": ["list", "dict"], "nullable": True}

TOP_SCHEMA: dict[str, Any] = {
    "policy": {"type": "string", "required": True, "empty": False},
    "version": {"type": "integer", "min": 0, "default": 1},
    "description": {"type": "string", "default": ""},
    "source": {"type": "string", "nullable": True},
    "extends": {"type": "string", "empty": False},
    "scope": {
        "type": "dict",
        "default": {},
        "schema": {
            "include": {"type": "list", "schema": {"type": "string"}, "default": ["*"]},
            "exclude": {"type": "list", "schema": {"type": "string"}, "default": []},
            "topics": {"type": "list", "schema": {"type": "string"}, "default": []},
            "visibility": {"type": "list", "default": ["public", "private", "internal"],
                           "schema": {"type": "string", "allowed": ["public", "private", "internal"]}},
            "skip_archived": {"type": "boolean", "default": True},
            "skip_forks": {"type": "boolean", "default": True},
        },
    },
    "branches": {"type": "dict", "default": {}, "keysrules": _ROLE,
                 "valuesrules": {"type": "string", "empty": False}},
    "environments": {"type": "dict", "default": {}, "keysrules": _ROLE,
                     "valuesrules": {"type": "string", "empty": False}},
    "gate": {
        "type": "dict",
        "default": {},
        "schema": {
            "fail_on": {"type": "string", "allowed": SEVERITIES, "default": "high"},
            "new_only": {"type": "boolean", "default": False},
            "unknown_fails": {"type": "boolean", "default": False},
        },
    },
    "rules": {"type": "dict", "default": {}, "valuesrules": {
        "type": "dict", "nullable": True,
        "schema": {
            "enabled": {"type": "boolean"},
            "severity": {"type": "string", "allowed": SEVERITIES},
            "control": {"type": "string"},
            "params": {"type": "dict", "nullable": True},
            "branches": _TARGETS,
            "environments": _TARGETS,
        }}},
    "waivers": {"type": "list", "default": [], "schema": {
        "type": "dict",
        "schema": {
            "rule": {"type": "string", "required": True, "empty": False},
            "repos": {"type": "list", "schema": {"type": "string"}, "default": []},
            "targets": {"type": "list", "schema": {"type": "string"}, "default": []},
            "reason": {"type": "string", "required": True, "empty": False},
            "owner": {"type": "string", "required": True, "empty": False},
            "expires": {"type": "date", "required": True},
        }}},
}


def shipped_dir() -> Path:
    """Where the shipped policies live inside the installed package."""
    return Path(str(resources.files("auditor") / "policies"))


def shipped_policies() -> list[str]:
    """Names of the shipped policies (usable in `extends` and `--policy`)."""
    return sorted(p.stem for p in shipped_dir().glob("*.yml"))


# --------------------------------------------------------------------------------------------
# YAML with line numbers


@dataclass
class _Doc:
    """A parsed YAML file: its data and the line of every key/item path in it."""

    file: str
    data: Any
    lines: dict[tuple[Any, ...], int]


def _walk(node: yaml.Node, path: tuple[Any, ...], lines: dict[tuple[Any, ...], int],
          problems: list[str], file: str) -> None:
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        seen: set[Any] = set()
        for key_node, value_node in node.value:
            key = key_node.value
            if key in seen:
                problems.append(f"{file}:{key_node.start_mark.line + 1}: "
                                f"{_fmt((*path, key))}: duplicate key (the earlier value would be ignored)")
            seen.add(key)
            lines[(*path, key)] = key_node.start_mark.line + 1
            _walk(value_node, (*path, key), lines, problems, file)
    elif isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            lines[(*path, i)] = item.start_mark.line + 1
            _walk(item, (*path, i), lines, problems, file)


def _parse(text: str, file: str) -> _Doc:
    problems: list[str] = []
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{file}:{mark.line + 1}" if mark is not None else file
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise PolicyError([f"{where}: not valid YAML: {problem}"]) from exc
    lines: dict[tuple[Any, ...], int] = {}
    if node is not None:
        _walk(node, (), lines, problems, file)
    if problems:
        raise PolicyError(problems)
    if data is None:
        raise PolicyError([f"{file}: the file is empty"])
    if not isinstance(data, dict):
        raise PolicyError([f"{file}:1: the top level must be a mapping of policy keys, "
                           f"not a {type(data).__name__}"])
    return _Doc(file, data, lines)


def _fmt(path: tuple[Any, ...]) -> str:
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out or "(top level)"


class _Problems:
    """Collects problems with their place in the file, sorted by line at the end."""

    def __init__(self, doc: _Doc):
        self.doc = doc
        self.items: list[tuple[int, str]] = []

    def line(self, path: tuple[Any, ...]) -> int:
        while path and path not in self.doc.lines:
            path = path[:-1]
        return self.doc.lines.get(path, 1)

    def add(self, path: tuple[Any, ...], message: str) -> None:
        line = self.line(path)
        self.items.append((line, f"{self.doc.file}:{line}: {_fmt(path)}: {message}"))

    def sorted(self) -> list[str]:
        return [msg for _, msg in sorted(self.items, key=lambda item: item[0])]


def _suggest(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


def _schema_keys(schema: Mapping[str, Any], path: tuple[Any, ...]) -> list[str]:
    """The allowed keys at `path` of the top-level schema, for suggestions on unknown keys."""
    node: Mapping[str, Any] = schema
    for part in path:
        if isinstance(part, int):
            continue
        entry = node.get(part) if isinstance(node, Mapping) else None
        if entry is None:
            if "valuesrules" in node:
                entry = node["valuesrules"]
            else:
                return []
        sub = entry.get("schema", entry.get("valuesrules", {}))
        if isinstance(sub, Mapping) and "schema" in sub and "type" in sub:
            sub = sub["schema"]
        node = sub
    return [k for k in node if isinstance(k, str)] if isinstance(node, Mapping) else []


def _flatten(errors: Any, path: tuple[Any, ...], out: list[tuple[tuple[Any, ...], str]]) -> None:
    """Cerberus' nested error tree -> (path, message) pairs."""
    if isinstance(errors, dict):
        for key, value in errors.items():
            _flatten(value, (*path, key), out)
    elif isinstance(errors, list):
        for item in errors:
            if isinstance(item, dict | list):
                _flatten(item, path, out)
            else:
                out.append((path, str(item)))
    else:
        out.append((path, str(errors)))


def _cerberus(schema: Mapping[str, Any], data: Any, base: tuple[Any, ...], problems: _Problems,
              *, update: bool = False) -> dict[str, Any] | None:
    """Validate and normalise `data` against `schema`, adding every error to `problems`."""
    validator = Validator(dict(schema), allow_unknown=False)
    ok = validator.validate(data, update=update)
    if ok:
        doc: dict[str, Any] = validator.document
        return doc
    pairs: list[tuple[tuple[Any, ...], str]] = []
    _flatten(validator.errors, base, pairs)
    for path, raw in pairs:
        message = raw
        if raw.startswith("unallowed value") and path and path[-1] in ("fail_on", "severity"):
            message = f"{raw} (allowed: {', '.join(SEVERITIES)})"
        if raw == "unknown field":
            options = _schema_keys(schema, path[len(base):-1]) if not base else list(schema)
            message = "unknown key" + _suggest(str(path[-1]), options)
        problems.add(path, message)
    return None


# --------------------------------------------------------------------------------------------
# extends


def _deep_merge(base: dict[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    out = copy.deepcopy(base)
    for key, value in override.items():
        if key == "waivers":
            out[key] = [*out.get(key, []), *value] if isinstance(value, list) else value
        elif isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _deep_merge(dict(out[key]), value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def _resolve_extends(doc: _Doc, chain: tuple[str, ...]) -> dict[str, Any]:
    """The policy data with its `extends` chain merged beneath it (child keys win)."""
    data = doc.data
    parent_ref = data.get("extends")
    if not isinstance(parent_ref, str) or not parent_ref:
        return dict(data)
    parent_path = _locate(parent_ref, Path(doc.file).parent if doc.file != "<string>" else Path.cwd())
    line = doc.lines.get(("extends",), 1)
    if parent_path is None:
        raise PolicyError([f"{doc.file}:{line}: extends: no shipped policy or file named '{parent_ref}'"
                           + _suggest(parent_ref, shipped_policies())
                           + f" (shipped: {', '.join(shipped_policies())})"])
    key = str(parent_path.resolve())
    if key in chain:
        raise PolicyError([f"{doc.file}:{line}: extends: circular chain: {' -> '.join((*chain, key))}"])
    parent_text = parent_path.read_text(encoding="utf-8")
    load_policy_text(parent_text, str(parent_path), _chain=chain)  # its problems, with its own places
    parent = _resolve_extends(_parse(parent_text, str(parent_path)), (*chain, key))
    return _deep_merge(parent, {k: v for k, v in data.items() if k != "extends"})


def _locate(ref: str, base_dir: Path) -> Path | None:
    if "/" in ref or ref.endswith((".yml", ".yaml")):
        candidate = (base_dir / ref).resolve()
        return candidate if candidate.is_file() else None
    shipped = shipped_dir() / f"{ref}.yml"
    return shipped if shipped.is_file() else None


# --------------------------------------------------------------------------------------------
# rules


def _rule_params(rule: Rule, raw: Any, path: tuple[Any, ...], problems: _Problems,
                 *, defaults: bool) -> dict[str, Any] | None:
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        problems.add(path, "must be of dict type")
        return None
    schema = rule.params if defaults else {k: {kk: vv for kk, vv in v.items() if kk != "default"}
                                           for k, v in rule.params.items()}
    if not rule.params and raw:
        for key in raw:
            problems.add((*path, key), f"unknown parameter: rule {rule.id} takes no params")
        return None
    return _cerberus(schema, raw, path, problems)


def _roles_config(rule: Rule, rc: Mapping[str, Any], path: tuple[Any, ...], data: Mapping[str, Any],
                  base_params: dict[str, Any], problems: _Problems) -> dict[str, dict[str, Any]] | None:
    key = "branches" if rule.scope is Scope.BRANCH else "environments"
    other = "environments" if key == "branches" else "branches"
    if rc.get(other) is not None:
        problems.add((*path, other), f"rule {rule.id} is {rule.scope.value}-scoped; "
                     f"it takes {'no role list' if rule.scope is Scope.REPO else key + ':'}")
    if rule.scope is Scope.REPO and rc.get(key) is not None:
        problems.add((*path, key), f"rule {rule.id} is repo-scoped; '{key}:' applies only to "
                     f"{'branch' if key == 'branches' else 'environment'}-scoped rules")
        return None
    spec = rc.get(key)
    if not isinstance(spec, (list, dict)) or rule.scope is Scope.REPO:
        return None  # absent, or of a wrong type that cerberus has reported
    # The role map may itself be malformed (a list, a number, non-string keys): cerberus has reported
    # that already, so judge the roles against whatever names are usable instead of crashing.
    declared = data.get(key)
    known = [name for name in declared if isinstance(name, str)] if isinstance(declared, dict) else []
    roles: dict[str, dict[str, Any]] = {}
    items: list[tuple[Any, Any]]
    items = [(r, {}) for r in spec] if isinstance(spec, list) else list(spec.items())
    for i, (role, overrides) in enumerate(items):
        where = (*path, key, i) if isinstance(spec, list) else (*path, key, role)
        if not isinstance(role, str):
            problems.add(where, "must be a role name")
            continue
        if role not in known:
            problems.add(where, f"unknown {'branch' if key == 'branches' else 'environment'} role "
                         f"'{role}'" + _suggest(role, known) + f" (the policy's {key}: {', '.join(known) or 'none'})")
            continue
        checked = _rule_params(rule, overrides, where, problems, defaults=False)
        if checked is not None:
            roles[role] = {**base_params, **checked}
    return roles


def _build_rules(data: Mapping[str, Any], problems: _Problems) -> list[RuleConfig]:
    out: list[RuleConfig] = []
    ids = sorted(RULES_BY_ID)
    rules = data.get("rules")
    if not isinstance(rules, dict):
        return out
    for rule_id, raw_rc in rules.items():
        path = ("rules", rule_id)
        rule = RULES_BY_ID.get(str(rule_id))
        if rule is None:
            problems.add(path, "unknown rule id" + _suggest(str(rule_id), ids)
                         + " (see `auditor policy rules`)")
            continue
        rc = raw_rc or {}
        if not isinstance(rc, dict):
            continue  # cerberus reported the type
        severity = rc.get("severity", rule.severity.value)
        params = _rule_params(rule, rc.get("params"), (*path, "params"), problems, defaults=True)
        if params is None:
            params = dict(rule.defaults)
        roles = _roles_config(rule, rc, path, data, params, problems)
        out.append(RuleConfig(
            id=rule_id,
            enabled=bool(rc.get("enabled", True)),
            severity=Severity(severity) if severity in SEVERITIES else rule.severity,
            params=params,
            control=rc.get("control"),
            roles=roles,
        ))
    return out


def _build_waivers(data: Mapping[str, Any], problems: _Problems) -> list[Waiver]:
    out: list[Waiver] = []
    waivers = data.get("waivers")
    if not isinstance(waivers, list):
        return out
    for i, w in enumerate(waivers):
        if not isinstance(w, dict) or not isinstance(w.get("rule"), str):
            continue  # cerberus reported it
        if w.get("rule") not in RULES_BY_ID:
            problems.add(("waivers", i, "rule"), f"unknown rule id '{w.get('rule')}'"
                         + _suggest(str(w.get("rule")), sorted(RULES_BY_ID)))
            continue
        expires = w.get("expires")
        if isinstance(expires, datetime):
            expires = expires.date()
        if not isinstance(expires, date) or not all(isinstance(w.get(k), str) for k in ("reason", "owner")):
            continue  # cerberus reported the missing or mistyped field
        out.append(Waiver(rule=w["rule"], reason=w["reason"], owner=w["owner"], expires=expires,
                          repos=tuple(w.get("repos") or ()), targets=tuple(w.get("targets") or ())))
    return out


def _coerce_dates(data: dict[str, Any]) -> None:
    """Accept quoted ISO dates for `expires` (YAML reads unquoted ones as dates already)."""
    waivers = data.get("waivers")
    for w in waivers if isinstance(waivers, list) else []:  # a non-list is reported by cerberus
        if isinstance(w, dict) and isinstance(w.get("expires"), str):
            # A bad date stays a string: cerberus reports "must be of date type" with its place.
            with contextlib.suppress(ValueError):
                w["expires"] = date.fromisoformat(w["expires"])


def _digest(data: Mapping[str, Any]) -> str:
    canonical = json.dumps(data, sort_keys=True, default=str, separators=(",", ":"))
    return "sha256:" + hashlib.sha256(canonical.encode()).hexdigest()


def load_policy_text(text: str, file: str = "<string>", *, _chain: tuple[str, ...] = ()) -> Policy:
    """Validate and build a policy from YAML text; raise PolicyError listing every problem."""
    doc = _parse(text, file)
    problems = _Problems(doc)
    own = copy.deepcopy(doc.data)
    _coerce_dates(own)
    schema = {**TOP_SCHEMA, "policy": {**TOP_SCHEMA["policy"], "required": "extends" not in own}}
    structurally_ok = _cerberus(schema, own, (), problems) is not None
    merged = _resolve_extends(doc, (*_chain, str(Path(file).resolve())))
    _coerce_dates(merged)
    validator = Validator(TOP_SCHEMA, allow_unknown=False)
    merged_ok = validator.validate(merged)
    if structurally_ok and not merged_ok:
        pairs: list[tuple[tuple[Any, ...], str]] = []
        _flatten(validator.errors, (), pairs)
        for path, message in pairs:
            problems.add(path, f"{message} (after merging extends)")
    rules = _build_rules(merged, problems)
    waivers = _build_waivers(merged, problems)
    if problems.items or not merged_ok:
        raise PolicyError(problems.sorted())
    data = validator.document
    scope = data["scope"]
    gate = data["gate"]
    return Policy(
        name=data["policy"],
        version=data["version"],
        digest=_digest(data),
        description=(data.get("description") or "").strip(),
        source=data.get("source"),
        path=None if file == "<string>" else file,
        scope=ScopeSelector(
            include=tuple(scope["include"]), exclude=tuple(scope["exclude"]), topics=tuple(scope["topics"]),
            visibility=tuple(scope["visibility"]), skip_archived=scope["skip_archived"],
            skip_forks=scope["skip_forks"]),
        branches=dict(data["branches"]),
        environments=dict(data["environments"]),
        gate=Gate(fail_on=Severity(gate["fail_on"]), new_only=gate["new_only"],
                  unknown_fails=gate["unknown_fails"]),
        rules=tuple(rules),
        waivers=tuple(waivers),
    )


def load_policy(ref: str | Path) -> Policy:
    """Load a policy from a path, or a shipped policy by name (e.g. `deployment-standard`)."""
    path = Path(ref)
    if not path.is_file():
        shipped = _locate(str(ref), Path.cwd()) if "/" not in str(ref) else None
        if shipped is None:
            raise PolicyError([f"{ref}: no such policy file, and no shipped policy of that name"
                               + _suggest(str(ref), shipped_policies())
                               + f" (shipped: {', '.join(shipped_policies())})"])
        path = shipped
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise PolicyError([f"{path}: cannot be read: {exc}"]) from exc
    return load_policy_text(text, str(path))
