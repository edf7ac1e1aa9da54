"""World descriptions: load, validate, and replay their 12-week timeline.

`load_world` accepts a path (YAML or JSON), a YAML/JSON text, or a dict. The base spec describes
the state at week 0; the `timeline` lists changes by week. A loaded world stands at its last week
(everything applied); `World.at_week(n)` gives the state at the end of week n, with `now` moved back
accordingly so that relative dates keep their meaning.
"""

from __future__ import annotations

import copy
import json
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from .build import build_state, parse_when
from .spec import WorldError, validate
from .state import State

DEMO_WORLD = Path(__file__).with_name("worlds") / "demo.yml"


class World:
    """A validated world spec plus the week it stands at; `state` is built on first use."""

    def __init__(self, spec: dict[str, Any], base_now: datetime, week: int | None = None) -> None:
        self.spec = spec
        self.base_now = base_now
        self.weeks = int(spec.get("weeks", 12))
        self.week = self.weeks if week is None else week
        self._state: State | None = None
        self._lock = threading.Lock()

    @property
    def now(self) -> datetime:
        """The moment this world stands at (the end of `week`)."""
        return self.base_now - timedelta(weeks=self.weeks - self.week)

    @property
    def state(self) -> State:
        with self._lock:
            if self._state is None:
                self._state = build_state(self.effective_spec(), self.base_now, self.week, self.weeks)
            return self._state

    def at_week(self, week: int) -> World:
        """The same world at the end of `week` (0..weeks): timeline changes up to it applied."""
        if not 0 <= week <= self.weeks:
            raise WorldError([f"week: must be between 0 and {self.weeks}, got {week}"])
        return World(self.spec, self.base_now, week)

    def effective_spec(self) -> dict[str, Any]:
        """The base spec with every timeline event of weeks <= `week` applied, in order."""
        spec = copy.deepcopy({k: v for k, v in self.spec.items() if k != "timeline"})
        events = sorted(enumerate(self.spec.get("timeline", [])), key=lambda e: (e[1]["week"], e[0]))
        for index, event in events:
            if event["week"] <= self.week:
                _apply(spec, event, f"world.timeline[{index}]")
        validate(spec, "world (after timeline)")
        return spec

    @property
    def repo_names(self) -> list[str]:
        """Full names of the repositories this world has at its week."""
        return sorted(self.state.repos)


def load_world(source: str | Path | Mapping[str, Any], now: datetime | None = None) -> World:
    """Load and validate a world; any malformed input raises WorldError (never another exception).

    `source` is a path to a .yml/.yaml/.json file, the text of one, or an already parsed mapping.
    `now` overrides the world's own `now:` (default `auto`: today at 00:00 UTC), which tests use to
    pin every date.
    """
    spec = _read(source)
    validate(spec)
    base_now = now or _base_now(spec.get("now", "auto"))
    world = World(spec, base_now)
    try:
        world.at_week(0).state  # noqa: B018 - build both ends once so errors surface at load time
        world.state  # noqa: B018
    except WorldError:
        raise
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
        raise WorldError([f"world: cannot expand: {exc!r}"]) from exc
    return world


def _read(source: str | Path | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(source, Mapping):
        return copy.deepcopy(dict(source))
    text: str
    where = "world"
    if isinstance(source, Path) or (isinstance(source, str) and "\n" not in source and (
            source.endswith((".yml", ".yaml", ".json")) or Path(source).exists())):
        path = Path(source)
        where = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise WorldError([f"{where}: cannot read: {exc.strerror or exc}"]) from exc
    else:
        text = str(source)
    try:
        data = json.loads(text) if where.endswith(".json") else yaml.safe_load(text)
    except (yaml.YAMLError, json.JSONDecodeError) as exc:
        raise WorldError([f"{where}: not valid YAML/JSON: {exc}"]) from exc
    if not isinstance(data, dict):
        raise WorldError([f"{where}: the top level must be a mapping, got {type(data).__name__}"])
    return data


def _base_now(value: Any) -> datetime:
    if value in (None, "auto"):
        today = datetime.now(UTC)
        return today.replace(hour=0, minute=0, second=0, microsecond=0)
    return parse_when(value)


def _find_repo(spec: dict[str, Any], name: str, where: str) -> dict[str, Any]:
    for repo in spec.get("repos", []):
        if repo["name"] == name or f"{repo.get('owner', '')}/{repo['name']}" == name:
            found: dict[str, Any] = repo
            return found
    raise WorldError([f"{where}.repo: no repository {name!r} at that week"])


def _apply(spec: dict[str, Any], event: Mapping[str, Any], where: str) -> None:
    """Apply one timeline event to a spec in place."""
    if "add_repo" in event:
        if any(r["name"] == event["add_repo"]["name"] for r in spec["repos"]):
            raise WorldError([f"{where}.add_repo: repository {event['add_repo']['name']!r} already exists"])
        spec["repos"].append(copy.deepcopy(event["add_repo"]))
    if "remove_repo" in event:
        _find_repo(spec, event["remove_repo"], where)
        spec["repos"] = [r for r in spec["repos"] if r["name"] != event["remove_repo"]]
    if "org" in event and "set" in event:
        org = next((o for o in spec.get("orgs", []) if o["login"] == event["org"]), None)
        if org is None:
            raise WorldError([f"{where}.org: no organisation {event['org']!r}"])
        for dotted, value in event["set"].items():
            set_path(org, dotted, value, f"{where}.set.{dotted}")
    if "repo" not in event:
        return
    repo = _find_repo(spec, event["repo"], where)
    for dotted, value in (event.get("set") or {}).items():
        set_path(repo, dotted, value, f"{where}.set.{dotted}")
    for path, text in (event.get("files") or {}).items():
        files = repo.setdefault("files", {})
        if text is None:
            files.pop(path, None)
            for per_branch in (repo.get("branch_files") or {}).values():
                per_branch[path] = None
        else:
            files[path] = text
    for key, target in (("add_pull", "pulls"), ("add_deployment", "deployments"), ("add_commit", "commits"),
                        ("add_secret", "secrets")):
        if key in event:
            repo.setdefault(target, []).append(copy.deepcopy(event[key]))
    if "remove_secret" in event:
        repo["secrets"] = [s for s in repo.get("secrets", [])
                           if (s if isinstance(s, str) else s["name"]) != event["remove_secret"]]


def set_path(obj: dict[str, Any], dotted: str, value: Any, where: str) -> None:
    """Set `a.b.c` in nested mappings; list items are addressed by their `name` (or index).

    A null value removes the key (e.g. `protection.main: null` unprotects main).
    """
    parts = dotted.split(".")
    current: Any = obj
    for i, part in enumerate(parts):
        last = i == len(parts) - 1
        if isinstance(current, list):
            index = _list_index(current, part)
            if index is None:
                raise WorldError([f"{where}: no item named {part!r}"])
            if last:
                current[index] = value
                return
            item = current[index]
            if isinstance(item, str):  # `environments: [staging]` shorthand grows into a mapping
                item = current[index] = {"name": item}
            current = item
        elif isinstance(current, dict):
            if last:
                if value is None:
                    current.pop(part, None)
                else:
                    current[part] = copy.deepcopy(value)
                return
            if current.get(part) is None:
                current[part] = {}
            current = current[part]
        else:
            raise WorldError([f"{where}: {'.'.join(parts[:i])} is not a mapping or list"])


def _list_index(items: list[Any], key: str) -> int | None:
    for i, item in enumerate(items):
        name = item if isinstance(item, str) else item.get("name") if isinstance(item, dict) else None
        if name == key:
            return i
    if key.isdigit() and int(key) < len(items):
        return int(key)
    return None
