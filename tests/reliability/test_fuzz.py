"""Bad input never crashes: any YAML gives a policy or a list of errors; any bytes give workflow facts
or a finding; any malformed world file gives a WorldError.

Inputs come from three generators per loader: free text, random YAML trees, and the shipped file with
one subtree replaced by a random value (the realistic mistake: the right file, one wrong thing in it).
Bounded by the `ci` hypothesis profile; `HYPOTHESIS_PROFILE=long` runs thousands of examples each.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from auditor.policy import Policy, PolicyError
from auditor.policy.loader import load_policy_text
from auditor.sandbox import DEMO_WORLD, World, WorldError, load_world
from auditor.workflows import Workflow, parse_workflow
from tests.reliability.support import FUZZ, record

ROOT = Path(__file__).resolve().parents[2]
POLICY_TEXT = (ROOT / "policies" / "deployment-standard.yml").read_text(encoding="utf-8")
POLICY = yaml.safe_load(POLICY_TEXT)
WORLD = yaml.safe_load(Path(DEMO_WORLD).read_text(encoding="utf-8"))

LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), st.text(max_size=12),
                 st.dates(), st.sampled_from(["main", "~DEFAULT_BRANCH", "high", "pass", "-1", "*", "", "auto",
                                              "${{ secrets.X }}", "<script>", "9" * 40]))
TREE = st.recursive(LEAF, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(st.text(max_size=8), st.integers()), inner, max_size=4)),
    max_leaves=20)
YAMLISH = st.text(alphabet=st.sampled_from(list("abcdefgpolicyrules:-[]{}!&*'\"#|>% \n\t?,.$01")), max_size=300)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path into a parsed YAML document (dict keys and list indexes)."""
    out = [prefix]
    if isinstance(node, dict):
        for k, v in node.items():
            out.extend(_paths(v, (*prefix, k)))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out.extend(_paths(v, (*prefix, i)))
    return out


def _replace(doc: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    doc = copy.deepcopy(doc)
    node = doc
    for step in path[:-1]:
        node = node[step]
    node[path[-1]] = value
    return doc


POLICY_PATHS = _paths(POLICY)
WORLD_PATHS = _paths(WORLD)


def _policy_outcome(text: str) -> Policy | list[str]:
    try:
        return load_policy_text(text, "fuzz.yml")
    except PolicyError as exc:
        problems = list(exc.problems)
    assert problems, "a PolicyError must say what is wrong"
    assert all(isinstance(p, str) and p for p in problems)
    return problems


def test_policy_loader_any_yaml_gives_a_policy_or_errors() -> None:
    tried = {"n": 0, "valid": 0}

    @FUZZ
    @given(st.one_of(
        YAMLISH,
        TREE.map(lambda t: yaml.safe_dump(t, allow_unicode=True)),
        st.tuples(st.integers(0, len(POLICY_PATHS) - 1), TREE),
    ))
    def prop(case: str | tuple[int, Any]) -> None:
        tried["n"] += 1
        if isinstance(case, tuple):  # the shipped policy with one subtree replaced (a small repr to report)
            case = yaml.safe_dump(_replace(POLICY, POLICY_PATHS[case[0]], case[1]), allow_unicode=True)
        outcome = _policy_outcome(case)
        if isinstance(outcome, Policy):
            tried["valid"] += 1

    prop()
    assert isinstance(_policy_outcome(POLICY_TEXT), Policy)  # the generator's base is itself valid
    record("fuzz: policy loader", inputs=tried["n"], crashes=0)


@pytest.mark.parametrize("environments", [1, [None], ["production"], {1: "prod"}, "production"])
def test_a_malformed_role_map_is_reported_not_raised(environments: Any) -> None:
    """Found by fuzzing: a rule naming environment roles while `environments:` was not a mapping crashed
    the loader with TypeError instead of listing the problem."""
    text = yaml.safe_dump(_replace(POLICY, ("environments",), environments), allow_unicode=True)
    outcome = _policy_outcome(text)
    assert isinstance(outcome, list)
    assert any(p.startswith("environments") or "environments" in p for p in outcome), outcome


@pytest.mark.parametrize("roles", [False, 3, "production", None])
def test_a_malformed_rule_role_list_is_reported_not_raised(roles: Any) -> None:
    """Found by fuzzing: `branches: false` under a branch-scoped rule raised AttributeError."""
    text = yaml.safe_dump(_replace(POLICY, ("rules", "branch-protected", "branches"), roles))
    outcome = _policy_outcome(text)
    if roles is None:
        assert isinstance(outcome, Policy)
    else:
        assert isinstance(outcome, list)
        assert any("branch-protected" in p and "branches" in p for p in outcome), outcome


@pytest.mark.parametrize("waivers", [True, 7, "none", {"rule": "x"}])
def test_a_malformed_waiver_list_is_reported_not_raised(waivers: Any) -> None:
    """Found by fuzzing: `waivers: true` raised TypeError while dates were being read."""
    outcome = _policy_outcome(yaml.safe_dump(_replace(POLICY, ("waivers",), waivers)))
    assert isinstance(outcome, list)
    assert any("waivers" in p for p in outcome), outcome


def test_policy_loader_any_bytes_decoded_give_errors_not_tracebacks() -> None:
    tried = {"n": 0}

    @FUZZ
    @given(st.binary(max_size=300))
    def prop(data: bytes) -> None:
        tried["n"] += 1
        _policy_outcome(data.decode("utf-8", errors="replace"))

    prop()
    record("fuzz: policy loader", inputs=tried["n"], crashes=0)


def test_workflow_parser_any_bytes_give_facts_or_a_finding() -> None:
    tried = {"n": 0}

    @FUZZ
    @given(st.one_of(st.binary(max_size=500),
                     TREE.map(lambda t: yaml.safe_dump(t).encode()),
                     YAMLISH.map(lambda t: ("on: push\njobs:\n  a:\n" + t).encode())))
    def prop(data: bytes) -> None:
        tried["n"] += 1
        parsed = parse_workflow("fuzz.yml", data)
        assert isinstance(parsed, Workflow)
        assert parsed.parse_error is None or "\n" not in parsed.parse_error

    prop()
    record("fuzz: workflow parser", inputs=tried["n"], crashes=0)


def _world_outcome(source: Any) -> World | list[str]:
    try:
        return load_world(source)
    except WorldError as exc:
        text = str(exc)
        assert text, "a WorldError must say what is wrong"
        return [text]


def test_world_loader_malformed_worlds_give_world_errors() -> None:
    tried = {"n": 0}

    @FUZZ
    @given(st.one_of(
        YAMLISH.map(lambda t: "orgs:\n" + t),
        TREE.filter(lambda t: isinstance(t, dict)),
        st.tuples(st.integers(0, len(WORLD_PATHS) - 1), TREE),
    ))
    def prop(case: Any) -> None:
        tried["n"] += 1
        if isinstance(case, tuple):  # the demo world with one subtree replaced (a small repr to report)
            case = _replace(WORLD, WORLD_PATHS[case[0]], case[1])
        _world_outcome(case)

    prop()
    assert isinstance(_world_outcome(WORLD), World)
    record("fuzz: sandbox world loader", inputs=tried["n"], crashes=0)
