"""Parse GitHub Actions workflow files into `auditor.facts.Workflow` facts.

Workflow files are written by strangers and are often broken, so parsing never raises: whatever
goes wrong (bytes that are not UTF-8, YAML that does not parse, a top level that is not a mapping,
a value of the wrong type anywhere) ends in `Workflow.parse_error`, a one-line reason with the YAML
line number when known, next to whatever could still be salvaged. Rules then decide what a broken
workflow means for them instead of the collector crashing on one bad file.

The loader reads YAML the way GitHub does (YAML 1.2 core scalars): `on`, `yes`, `no` stay strings,
only `true`/`false` are booleans and dates stay strings. PyYAML's own YAML 1.1 reading turns the
key `on` into the boolean True, so a `True` key is still accepted as `on`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

import yaml

from auditor.facts import ActionRef, Job, PinKind, Step, Trigger, Workflow

# --------------------------------------------------------------------------------------------
# A YAML loader that reads like GitHub and remembers where each mapping started


class _Map(dict[Any, Any]):
    """A YAML mapping that remembers its 1-based line, so type errors can point at the file."""

    line: int | None = None


class _Loader(yaml.SafeLoader):
    """SafeLoader with YAML 1.2 booleans, no timestamps, and line-tagged mappings."""


_BOOL_TAG = "tag:yaml.org,2002:bool"
_TIMESTAMP_TAG = "tag:yaml.org,2002:timestamp"
_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag not in {_BOOL_TAG, _TIMESTAMP_TAG}]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_Loader.add_implicit_resolver(_BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _construct_map(loader: yaml.SafeLoader, node: yaml.MappingNode) -> Iterator[_Map]:
    data = _Map()
    data.line = node.start_mark.line + 1
    yield data
    data.update(loader.construct_mapping(node))


_Loader.add_constructor("tag:yaml.org,2002:map", _construct_map)


def _guarded(construct: Any) -> Any:
    """Wrap a scalar constructor so a bad explicit tag (`!!int`, `!!float ''`) is a YAML error.

    PyYAML's own scalar constructors raise IndexError or AttributeError on such input.
    """

    def guarded(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
        try:
            return construct(loader, node)
        except (ValueError, TypeError, IndexError, KeyError, AttributeError, OverflowError) as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"invalid {node.tag.rsplit(':', 1)[-1]} value", node.start_mark) from exc

    return guarded


for _tag in ("null", "bool", "int", "float", "binary", "timestamp", "str"):
    _full = f"tag:yaml.org,2002:{_tag}"
    _Loader.add_constructor(_full, _guarded(yaml.SafeLoader.yaml_constructors[_full]))

# --------------------------------------------------------------------------------------------
# `uses:` references

_SHA = re.compile(r"^[0-9a-fA-F]{40}$")
_BRANCHISH = frozenset({"main", "master", "develop", "dev", "trunk", "latest", "head"})


def parse_uses(raw: str) -> ActionRef:
    """Split a `uses:` value into name and ref, and say how firmly it is pinned.

    A 40-hex ref is immutable ("sha"); a well-known branch name moves with every push ("branch");
    any other ref is taken as a tag, which its owner can still move.
    """
    text = raw.strip()
    if text.startswith(("./", "../")):
        return ActionRef(raw=raw, name=text, ref=None, pin="local")
    if text.lower().startswith("docker://"):
        image = text[len("docker://"):]
        ref: str | None = None
        if "@" in image:
            image, ref = image.split("@", 1)
        elif ":" in image.rsplit("/", 1)[-1]:
            image, ref = image.rsplit(":", 1)
        return ActionRef(raw=raw, name=f"docker://{image}", ref=ref, pin="docker")
    name, _, ref_text = text.partition("@")
    if not ref_text:
        return ActionRef(raw=raw, name=name, ref=None, pin="unpinned")
    pin: PinKind
    if _SHA.match(ref_text):
        pin = "sha"
    elif ref_text.lower() in _BRANCHISH:
        pin = "branch"
    else:
        pin = "tag"
    return ActionRef(raw=raw, name=name, ref=ref_text, pin=pin)


# --------------------------------------------------------------------------------------------
# Expressions: secrets and checkouts of pull-request code

_EXPRESSION = re.compile(r"\$\{\{(.*?)\}\}", re.DOTALL)
_SECRET_DOT = re.compile(r"\bsecrets\s*\.\s*([A-Za-z_][A-Za-z0-9_]*)", re.IGNORECASE)
_SECRET_INDEX = re.compile(r"\bsecrets\s*\[\s*['\"]([^'\"]+)['\"]\s*\]", re.IGNORECASE)
_PR_HEAD_REF = re.compile(
    r"github\.event\.pull_request\.head\.(?:sha|ref|repo\.full_name)"
    r"|github\.head_ref"
    r"|refs/pull/"
    r"|github\.event\.workflow_run\.head_(?:sha|branch|repository\.full_name)",
    re.IGNORECASE,
)
_PR_HEAD_SCRIPT = re.compile(r"\bgh\s+pr\s+checkout\b|\bgit\s+fetch\b[^\n]*\bpull/", re.IGNORECASE)


def _secrets_in_text(text: str, whole_is_expression: bool = False) -> list[str]:
    """Secret names referenced in `${{ }}` expressions of `text` (or in all of it for `if:`)."""
    chunks = [text] if whole_is_expression else _EXPRESSION.findall(text)
    names: list[str] = []
    for chunk in chunks:
        names += _SECRET_DOT.findall(chunk)
        names += _SECRET_INDEX.findall(chunk)
    return names


def _secrets_in(value: Any, key: Any = None) -> list[str]:
    """Every secret referenced anywhere in a YAML value, in document order."""
    if isinstance(value, str):
        return _secrets_in_text(value, whole_is_expression=key == "if")
    names: list[str] = []
    if isinstance(value, Mapping):
        for k, v in value.items():
            names += _secrets_in(v, k)
    elif isinstance(value, list):
        for item in value:
            names += _secrets_in(item)
    return names


def _unique(items: list[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(items))


# --------------------------------------------------------------------------------------------
# Type-checked extraction that records problems instead of raising


_MAX_REASON = 200  # keys come from the file; keep the reason one short line whatever they hold


class _Problems:
    """Problems found while reading a workflow; the first becomes `parse_error`."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, where: str, what: str, node: Any = None) -> None:
        line = node.line if isinstance(node, _Map) else None
        self.items.append(f"line {line}: {where}: {what}" if line else f"{where}: {what}")

    def summary(self) -> str | None:
        if not self.items:
            return None
        first = " ".join(self.items[0].split())
        if len(first) > _MAX_REASON:
            first = first[: _MAX_REASON - 3] + "..."
        more = len(self.items) - 1
        return first + (f" (and {more} more problem{'s' * (more > 1)})" if more else "")


def _type_name(value: Any) -> str:
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing"
    kind = type(value).__name__
    return f"{'an' if kind[0] in 'aeiou' else 'a'} {kind}"


def _scalar(value: Any) -> str | None:
    """A YAML scalar as GitHub would read it as a string; None for null or non-scalars."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _text(value: Any, where: str, problems: _Problems, parent: Any) -> str | None:
    if value is None:
        return None
    text = _scalar(value)
    if text is None:
        problems.add(where, f"expected a string, got {_type_name(value)}", parent)
    return text


def _text_list(value: Any, where: str, problems: _Problems, parent: Any) -> tuple[str, ...] | None:
    """A string or a list of strings (GitHub accepts both for filters and `needs:`)."""
    if value is None:
        return None
    if not isinstance(value, list):
        single = _text(value, where, problems, parent)
        return (single,) if single is not None else None
    out: list[str] = []
    for i, item in enumerate(value):
        text = _text(item, f"{where}[{i}]", problems, parent)
        if text is not None:
            out.append(text)
    return tuple(out)


def _permissions(value: Any, where: str, problems: _Problems, parent: Any) -> dict[str, str] | str | None:
    """`permissions:` as a scope->level mapping (`{}` grants nothing) or a string like read-all."""
    if value is None:
        return None
    if isinstance(value, Mapping):
        out: dict[str, str] = {}
        for k, v in value.items():
            level = _text(v, f"{where}.{k}", problems, value)
            if level is not None:
                out[str(k)] = level
        return out
    return _text(value, where, problems, parent)


_FILTERS = {
    "branches": "branches",
    "branches-ignore": "branches_ignore",
    "paths": "paths",
    "paths-ignore": "paths_ignore",
    "types": "types",
    "workflows": "workflows",
}
_VALUE_EVENTS = frozenset({"schedule", "workflow_dispatch", "workflow_call"})  # values are not filters


def _triggers(value: Any, problems: _Problems, top: Any) -> tuple[Trigger, ...]:
    """The `on:` value: one event name, a list of names, or a mapping of events to filters."""
    if value is None:
        problems.add("on", "the workflow has no triggers", top)
        return ()
    if isinstance(value, str | list):
        names = _text_list(value, "on", problems, top) or ()
        return tuple(Trigger(event=name) for name in names)
    if not isinstance(value, Mapping):
        problems.add("on", f"expected an event, a list or a mapping, got {_type_name(value)}", top)
        return ()
    triggers: list[Trigger] = []
    for raw_event, spec in value.items():
        event = str(raw_event)
        where = f"on.{event}"
        if spec is None or event in _VALUE_EVENTS:
            triggers.append(Trigger(event=event))
            continue
        if not isinstance(spec, Mapping):
            problems.add(where, f"expected a mapping of filters, got {_type_name(spec)}", value)
            triggers.append(Trigger(event=event))
            continue
        filters: dict[str, tuple[str, ...] | None] = {
            attr: _text_list(spec.get(key), f"{where}.{key}", problems, spec)
            for key, attr in _FILTERS.items()
        }
        has_tag_filter = spec.get("tags") is not None or spec.get("tags-ignore") is not None
        no_branch_filter = filters["branches"] is None and filters["branches_ignore"] is None
        if event == "push" and has_tag_filter and no_branch_filter:
            # GitHub: a push filtered only by tags does not run for branch pushes at all.
            filters["branches"] = ()
        triggers.append(Trigger(event=event, **filters))
    return tuple(triggers)


def _checkout_ref_is_pr_head(uses: ActionRef | None, with_: Mapping[str, str]) -> bool:
    if uses is None or uses.name.lower() != "actions/checkout":
        return False
    return any(_PR_HEAD_REF.search(with_.get(key, "")) for key in ("ref", "repository"))


def _step(value: Any, where: str, problems: _Problems, job: Any) -> Step | None:
    if not isinstance(value, Mapping):
        problems.add(where, f"expected a mapping, got {_type_name(value)}", job)
        return None
    uses_text = _text(value.get("uses"), f"{where}.uses", problems, value)
    with_raw = value.get("with")
    with_: dict[str, str] = {}
    if isinstance(with_raw, Mapping):
        for k, v in with_raw.items():
            text = "" if v is None else _text(v, f"{where}.with.{k}", problems, with_raw)
            if text is not None:
                with_[str(k)] = text
    elif with_raw is not None:
        problems.add(f"{where}.with", f"expected a mapping, got {_type_name(with_raw)}", value)
    return Step(
        name=_text(value.get("name"), f"{where}.name", problems, value),
        uses=parse_uses(uses_text) if uses_text else None,
        run=_text(value.get("run"), f"{where}.run", problems, value),
        with_=with_,
        secrets=_unique(_secrets_in(value)),
    )


def _environment(value: Any, where: str, problems: _Problems, job: Any) -> str | None:
    if isinstance(value, Mapping):
        return _text(value.get("name"), f"{where}.name", problems, value)
    return _text(value, where, problems, job)


def _job(job_id: str, value: Any, problems: _Problems, jobs: Any) -> Job | None:
    where = f"jobs.{job_id}"
    if not isinstance(value, Mapping):
        problems.add(where, f"expected a mapping, got {_type_name(value)}", jobs)
        return None
    steps: list[Step] = []
    raw_steps = value.get("steps")
    if isinstance(raw_steps, list):
        for i, raw in enumerate(raw_steps):
            step = _step(raw, f"{where}.steps[{i}]", problems, value)
            if step is not None:
                steps.append(step)
    elif raw_steps is not None:
        problems.add(f"{where}.steps", f"expected a list, got {_type_name(raw_steps)}", value)
    uses_text = _text(value.get("uses"), f"{where}.uses", problems, value)
    strategy = value.get("strategy")
    checks_out = any(
        _checkout_ref_is_pr_head(s.uses, s.with_) or (s.run is not None and _PR_HEAD_SCRIPT.search(s.run))
        for s in steps
    )
    return Job(
        id=job_id,
        name=_text(value.get("name"), f"{where}.name", problems, value),
        environment=_environment(value.get("environment"), f"{where}.environment", problems, value),
        needs=_text_list(value.get("needs"), f"{where}.needs", problems, value) or (),
        steps=tuple(steps),
        uses=parse_uses(uses_text) if uses_text else None,
        secrets=_unique(_secrets_in(value)),
        secrets_inherit=value.get("secrets") == "inherit",
        permissions=_permissions(value.get("permissions"), f"{where}.permissions", problems, value),
        checks_out_pr_head=checks_out,
        has_matrix=isinstance(strategy, Mapping) and strategy.get("matrix") is not None,
    )


# --------------------------------------------------------------------------------------------
# Entry points


def _load(text: str | bytes) -> tuple[Any, str | None]:
    """The YAML document, or None and the one-line reason it could not be read."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            return None, f"the file is not UTF-8 (invalid byte at offset {exc.start})"
    try:
        return yaml.load(text, Loader=_Loader), None  # noqa: S506 - _Loader is a SafeLoader
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f" at line {mark.line + 1}" if mark is not None else ""
        reason = exc.problem or exc.context or "malformed YAML"
        return None, f"invalid YAML{where}: {' '.join(reason.split())}"
    except yaml.YAMLError as exc:
        return None, f"invalid YAML: {' '.join(str(exc).split())}"
    except (ValueError, OverflowError) as exc:  # e.g. `!!int abc`, `!!float` overflow
        return None, f"invalid YAML value: {' '.join(str(exc).split())}"
    except RecursionError:
        return None, "invalid YAML: nested too deeply"


def parse_workflow(path: str, text: str | bytes) -> Workflow:
    """Parse one workflow file; never raises (see the module docstring)."""
    doc, error = _load(text)
    if error is not None:
        return Workflow(path=path, parse_error=error)
    if doc is None:
        return Workflow(path=path, parse_error="the file is empty")
    if not isinstance(doc, Mapping):
        return Workflow(path=path, parse_error=f"the top level is {_type_name(doc)}, not a mapping")
    problems = _Problems()
    on_value = doc["on"] if "on" in doc else doc.get(True)
    triggers = _triggers(on_value, problems, doc)
    jobs: list[Job] = []
    raw_jobs = doc.get("jobs")
    if isinstance(raw_jobs, Mapping) and raw_jobs:
        for job_id, value in raw_jobs.items():
            job = _job(str(job_id), value, problems, raw_jobs)
            if job is not None:
                jobs.append(job)
    else:
        problems.add("jobs", "the workflow has no jobs" if not raw_jobs else
                     f"expected a mapping, got {_type_name(raw_jobs)}", doc)
    return Workflow(
        path=path,
        name=_text(doc.get("name"), "name", problems, doc),
        triggers=triggers,
        jobs=tuple(jobs),
        permissions=_permissions(doc.get("permissions"), "permissions", problems, doc),
        parse_error=problems.summary(),
    )


def parse_workflows(files: Mapping[str, str | bytes]) -> tuple[Workflow, ...]:
    """Parse every file of a `path -> content` mapping, sorted by path."""
    return tuple(parse_workflow(path, files[path]) for path in sorted(files))
