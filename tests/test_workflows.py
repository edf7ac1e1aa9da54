"""Tests of the workflow parser: real-world-shaped snippets, fixtures, malformed input, any bytes."""

from __future__ import annotations

from pathlib import Path
from textwrap import dedent

import pytest
import yaml
from hypothesis import given, settings
from hypothesis import strategies as st

from auditor.facts import ActionRef, Workflow
from auditor.workflows import parse_uses, parse_workflow, parse_workflows

DATA = Path(__file__).parent / "data" / "workflows"


def wf(text: str) -> Workflow:
    return parse_workflow(".github/workflows/x.yml", dedent(text))


JOB = "jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n"

# (case id, workflow text, what to look at, expected value)
SNIPPETS = [
    ("on-string", "on: push\n" + JOB, lambda w: [t.event for t in w.triggers], ["push"]),
    ("on-list", "on: [push, pull_request]\n" + JOB, lambda w: [t.event for t in w.triggers],
     ["push", "pull_request"]),
    ("on-true-key", "true:\n  push:\n    branches: [main]\n" + JOB,
     lambda w: w.trigger("push").branches, ("main",)),
    ("on-quoted", '"on":\n  pull_request:\n    branches: main\n' + JOB,
     lambda w: w.trigger("pull_request").branches, ("main",)),
    ("filters",
     "on:\n  push:\n    branches-ignore: [wip/*]\n    paths: [src/**]\n    paths-ignore: [docs/**]\n" + JOB,
     lambda w: (w.trigger("push").branches, w.trigger("push").branches_ignore,
                w.trigger("push").paths, w.trigger("push").paths_ignore),
     (None, ("wip/*",), ("src/**",), ("docs/**",))),
    ("tags-only-push", "on:\n  push:\n    tags: ['v*']\n" + JOB, lambda w: w.trigger("push").branches, ()),
    ("tags-and-branches", "on:\n  push:\n    tags: ['v*']\n    branches: [main]\n" + JOB,
     lambda w: w.trigger("push").branches, ("main",)),
    ("tags-ignore-only", "on:\n  push:\n    tags-ignore: ['v*']\n" + JOB,
     lambda w: w.trigger("push").branches, ()),
    ("pr-types", "on:\n  pull_request_target:\n    types: [opened, synchronize]\n" + JOB,
     lambda w: w.trigger("pull_request_target").types, ("opened", "synchronize")),
    ("workflow-run", "on:\n  workflow_run:\n    workflows: [CI]\n    types: [completed]\n" + JOB,
     lambda w: w.trigger("workflow_run").workflows, ("CI",)),
    ("schedule-list-is-not-a-filter", "on:\n  schedule:\n    - cron: '0 3 * * *'\n" + JOB,
     lambda w: (w.trigger("schedule") is not None, w.parse_error), (True, None)),
    ("yes-stays-a-string", "on: push\njobs:\n  a:\n    steps:\n      - uses: actions/checkout@v4\n"
     "        with: {persist-credentials: no, fetch-depth: 0, lfs: true}\n",
     lambda w: w.jobs[0].steps[0].with_, {"persist-credentials": "no", "fetch-depth": "0", "lfs": "true"}),
    ("date-stays-a-string", "name: 2024-01-02\non: push\n" + JOB, lambda w: w.name, "2024-01-02"),
    ("environment-string", "on: push\njobs:\n  d:\n    environment: production\n    steps: [{run: x}]\n",
     lambda w: w.jobs[0].environment, "production"),
    ("environment-mapping-expression",
     "on: push\njobs:\n  d:\n    environment:\n      name: ${{ inputs.env }}\n      url: https://x\n"
     "    steps: [{run: x}]\n", lambda w: w.jobs[0].environment, "${{ inputs.env }}"),
    ("needs-string",
     "on: push\njobs:\n  a:\n    steps: [{run: x}]\n  b:\n    needs: a\n    steps: [{run: x}]\n",
     lambda w: w.jobs[1].needs, ("a",)),
    ("needs-list", "on: push\njobs:\n  b:\n    needs: [a, c]\n    steps: [{run: x}]\n",
     lambda w: w.jobs[0].needs, ("a", "c")),
    ("job-name-and-check-name", "on: push\njobs:\n  t:\n    name: Tests\n    steps: [{run: x}]\n",
     lambda w: (w.jobs[0].name, w.jobs[0].check_name), ("Tests", "Tests")),
    ("secrets-dot-and-index",
     "on: push\njobs:\n  a:\n    env:\n      T: ${{ secrets.API_TOKEN }}\n    steps:\n"
     "      - run: deploy ${{ secrets['DEPLOY_KEY'] }} ${{ secrets.GITHUB_TOKEN }}\n",
     lambda w: (w.jobs[0].secrets, w.jobs[0].steps[0].secrets),
     (("API_TOKEN", "DEPLOY_KEY", "GITHUB_TOKEN"), ("DEPLOY_KEY", "GITHUB_TOKEN"))),
    ("secret-text-outside-expression-is-not-a-reference",
     "on: push\njobs:\n  a:\n    steps:\n      - run: echo secrets.NOT_A_REF\n",
     lambda w: w.jobs[0].secrets, ()),
    ("secret-in-if-is-an-expression",
     "on: push\njobs:\n  a:\n    if: secrets.ENABLED != ''\n    steps: [{run: x}]\n",
     lambda w: w.jobs[0].secrets, ("ENABLED",)),
    ("reusable-call-inherit",
     "on: push\njobs:\n  r:\n    uses: acme/wf/.github/workflows/d.yml@v1\n    secrets: inherit\n",
     lambda w: (w.jobs[0].uses, w.jobs[0].secrets_inherit),
     (ActionRef("acme/wf/.github/workflows/d.yml@v1", "acme/wf/.github/workflows/d.yml", "v1", "tag"), True)),
    ("reusable-call-explicit-secrets",
     "on: push\njobs:\n  r:\n    uses: ./.github/workflows/d.yml\n"
     "    secrets:\n      key: ${{ secrets.SSH_KEY }}\n",
     lambda w: (w.jobs[0].uses.pin, w.jobs[0].secrets, w.jobs[0].secrets_inherit),
     ("local", ("SSH_KEY",), False)),
    ("permissions-levels",
     "on: push\npermissions: read-all\njobs:\n  a:\n    permissions:\n      contents: write\n"
     "    steps: [{run: x}]\n", lambda w: (w.permissions, w.jobs[0].permissions),
     ("read-all", {"contents": "write"})),
    ("permissions-empty-mapping-is-declared", "on: push\npermissions: {}\n" + JOB,
     lambda w: w.permissions, {}),
    ("no-permissions", "on: push\n" + JOB, lambda w: (w.permissions, w.jobs[0].permissions), (None, None)),
    ("matrix",
     "on: push\njobs:\n  a:\n    strategy:\n      matrix:\n        os: [a, b]\n    steps: [{run: x}]\n",
     lambda w: w.jobs[0].has_matrix, True),
    ("strategy-without-matrix", "on: push\njobs:\n  a:\n    strategy:\n      fail-fast: false\n"
     "    steps: [{run: x}]\n", lambda w: w.jobs[0].has_matrix, False),
]

CHECKOUTS = [
    ("ref: ${{ github.event.pull_request.head.sha }}", True),
    ("ref: ${{ github.event.pull_request.head.ref }}", True),
    ("ref: ${{ github.head_ref }}", True),
    ("ref: refs/pull/${{ github.event.number }}/merge", True),
    ("ref: ${{ github.event.workflow_run.head_sha }}", True),
    ("ref: ${{ github.event.workflow_run.head_branch }}", True),
    ("repository: ${{ github.event.pull_request.head.repo.full_name }}", True),
    ("ref: ${{ github.sha }}", False),
    ("ref: main", False),
    ("fetch-depth: 0", False),
]


@pytest.mark.parametrize(("text", "pick", "expected"), [c[1:] for c in SNIPPETS],
                         ids=[c[0] for c in SNIPPETS])
def test_snippets(text, pick, expected):
    parsed = wf(text)
    assert pick(parsed) == expected
    assert parsed.parse_error is None


@pytest.mark.parametrize(("with_line", "expected"), CHECKOUTS, ids=[c[0] for c in CHECKOUTS])
def test_checkout_of_pr_head(with_line, expected):
    text = ("on: pull_request_target\njobs:\n  a:\n    steps:\n      - uses: actions/checkout@v4\n"
            f"        with:\n          {with_line}\n")
    assert wf(text).jobs[0].checks_out_pr_head is expected


@pytest.mark.parametrize(("script", "expected"), [
    ("gh pr checkout 12", True),
    ("git fetch origin pull/12/head:pr && git checkout pr", True),
    ("git fetch origin main", False),
    ("echo gh pr view", False),
])
def test_script_checkout_of_pr_head(script, expected):
    text = f"on: pull_request_target\njobs:\n  a:\n    steps:\n      - run: {script}\n"
    assert wf(text).jobs[0].checks_out_pr_head is expected


def test_checkout_ref_in_other_action_is_not_a_checkout():
    text = ("on: pull_request_target\njobs:\n  a:\n    steps:\n      - uses: acme/lint@v1\n"
            "        with: {ref: '${{ github.head_ref }}'}\n")
    assert wf(text).jobs[0].checks_out_pr_head is False


@pytest.mark.parametrize(("raw", "name", "ref", "pin"), [
    ("actions/checkout@b4ffde65f46336ab88eb53be808477a3936bae11", "actions/checkout",
     "b4ffde65f46336ab88eb53be808477a3936bae11", "sha"),
    ("actions/checkout@v4", "actions/checkout", "v4", "tag"),
    ("acme/action@v1.2.3", "acme/action", "v1.2.3", "tag"),
    ("acme/action@1.2", "acme/action", "1.2", "tag"),
    ("acme/action@b4ffde6", "acme/action", "b4ffde6", "tag"),  # a short SHA is not immutable
    ("acme/action@main", "acme/action", "main", "branch"),
    ("acme/action@master", "acme/action", "master", "branch"),
    ("acme/action@HEAD", "acme/action", "HEAD", "branch"),
    ("acme/action@latest", "acme/action", "latest", "branch"),
    ("acme/monorepo/sub/dir@develop", "acme/monorepo/sub/dir", "develop", "branch"),
    ("acme/action", "acme/action", None, "unpinned"),
    ("acme/action@", "acme/action", None, "unpinned"),
    ("./.github/actions/setup", "./.github/actions/setup", None, "local"),
    ("docker://alpine:3.19", "docker://alpine", "3.19", "docker"),
    ("docker://ghcr.io:443/acme/img", "docker://ghcr.io:443/acme/img", None, "docker"),
    ("docker://alpine@sha256:abc", "docker://alpine", "sha256:abc", "docker"),
])
def test_parse_uses(raw, name, ref, pin):
    assert parse_uses(raw) == ActionRef(raw=raw, name=name, ref=ref, pin=pin)


def test_fixture_deploy():
    parsed = parse_workflow("deploy.yml", (DATA / "deploy.yml").read_bytes())
    assert parsed.parse_error is None
    assert parsed.name == "Deploy"
    assert [t.event for t in parsed.triggers] == ["push", "workflow_dispatch"]
    assert parsed.trigger("push").branches == ("main", "staging")
    assert parsed.trigger("push").paths_ignore == ("docs/**",)
    assert parsed.permissions == {"contents": "read", "id-token": "write"}
    test, deploy = parsed.jobs
    assert test.has_matrix
    assert not deploy.has_matrix
    assert [s.uses.pin for s in test.steps if s.uses] == ["sha", "tag"]
    assert test.steps[1].with_ == {"python-version": "${{ matrix.python }}", "cache": "pip"}
    assert deploy.check_name == "Deploy to production"
    assert deploy.needs == ("test",)
    assert deploy.environment == "${{ github.ref_name == 'main' && 'production' || 'staging' }}"
    assert deploy.secrets == ("AWS_SECRET_ACCESS_KEY", "SLACK_WEBHOOK_URL")
    assert deploy.steps[1].secrets == ("AWS_SECRET_ACCESS_KEY",)
    assert [s.uses.pin for s in deploy.steps if s.uses] == ["tag", "docker", "branch"]
    assert not deploy.checks_out_pr_head


def test_fixture_pull_request_target():
    parsed = parse_workflow("pr-target.yml", (DATA / "pr-target.yml").read_text())
    assert [t.event for t in parsed.triggers] == ["pull_request_target"]
    assert parsed.jobs[0].checks_out_pr_head
    assert parsed.jobs[0].secrets == ("NPM_TOKEN",)
    assert parsed.jobs[0].environment is None


def test_fixture_workflow_run_caller():
    parsed = parse_workflow("reusable-caller.yml", (DATA / "reusable-caller.yml").read_text())
    release, comment = parsed.jobs
    assert release.uses is not None
    assert release.uses.pin == "tag"
    assert release.secrets_inherit
    assert release.permissions == "write-all"
    assert comment.permissions == {}
    assert comment.checks_out_pr_head  # `gh pr checkout` in a run script
    assert comment.secrets == ()  # github.token is not a secret reference


def test_parse_workflows_sorted_and_broken_file_kept():
    files = {p.name: p.read_bytes() for p in DATA.iterdir()}
    parsed = parse_workflows(files)
    assert [w.path for w in parsed] == sorted(files)
    broken = next(w for w in parsed if w.path == "broken.yml")
    assert broken.parse_error is not None
    assert "line 2" in broken.parse_error
    assert broken.jobs == ()


@pytest.mark.parametrize(("text", "fragment"), [
    (b"on: push\nname: caf\xe9\n", "not UTF-8"),
    ("on: [push\njobs: {}\n", "invalid YAML at line 2"),
    ("on: push\njobs:\n  a: {\n", "invalid YAML at line"),
    ("", "the file is empty"),
    ("# only a comment\n", "the file is empty"),
    ("- on: push\n", "the top level is a list"),
    ("just a string", "the top level is a str"),
    ("on: push\njobs: 3\n", "jobs: expected a mapping, got an int"),
    ("on: push\n", "no jobs"),
    (JOB, "no triggers"),
    ("on: 42\n" + JOB, "on: expected an event"),
    ("on: {push: main}\n" + JOB, "on.push: expected a mapping of filters"),
    ("on: push\njobs:\n  a: [1]\n", "line 3: jobs.a: expected a mapping, got a list"),
    ("on: push\njobs:\n  a:\n    steps: run\n", "jobs.a.steps: expected a list"),
    ("on: push\njobs:\n  a:\n    steps: [run]\n", "jobs.a.steps[0]: expected a mapping"),
    ("on: push\njobs:\n  a:\n    steps:\n      - uses: [a]\n",
     "line 5: jobs.a.steps[0].uses: expected a string"),
    ("on: push\njobs:\n  a:\n    steps:\n      - with: [1]\n", "jobs.a.steps[0].with: expected a mapping"),
    ("on: push\njobs:\n  a:\n    environment: [prod]\n    steps: [{run: x}]\n", "jobs.a.environment"),
    ("on: push\njobs:\n  a:\n    needs: {x: 1}\n    steps: [{run: x}]\n", "jobs.a.needs"),
    ("on:\n  push:\n    branches: {main: 1}\n" + JOB, "on.push.branches"),
    ("on: push\npermissions: [read]\n" + JOB, "permissions: expected a string"),
    ("on: push\nname: {a: 1}\n" + JOB, "name: expected a string"),
    ("!!int nope\n", "invalid YAML at line 1: invalid int value"),
    ("on: !!float \n", "invalid float value"),
    ("on: !!bool maybe\n", "invalid bool value"),
    ("on: push\n? [a, b]\n: c\n", "invalid YAML"),
    ("on: !!python/object:os.system x\n", "invalid YAML"),
    ("[" * 2000, "invalid YAML"),
])
def test_malformed_inputs_give_a_parse_error(text, fragment):
    parsed = parse_workflow("bad.yml", text)
    assert parsed.parse_error is not None
    assert fragment in parsed.parse_error
    assert "\n" not in parsed.parse_error


def test_salvages_what_it_can_next_to_a_type_error():
    parsed = wf("""\
        name: Mixed
        on: [push]
        permissions: read-all
        jobs:
          good:
            environment: production
            steps:
              - run: echo ${{ secrets.DEPLOY_KEY }}
          bad: 3
        """)
    assert parsed.parse_error is not None
    assert "jobs.bad" in parsed.parse_error
    assert parsed.name == "Mixed"
    assert [j.id for j in parsed.jobs] == ["good"]
    assert parsed.jobs[0].secrets == ("DEPLOY_KEY",)
    assert parsed.permissions == "read-all"


def test_several_problems_are_counted_on_one_line():
    parsed = wf("on: push\njobs:\n  a: 1\n  b: 2\n  c: 3\n")
    assert parsed.parse_error is not None
    assert parsed.parse_error.endswith("(and 2 more problems)")


def test_huge_keys_keep_the_reason_short():
    parsed = parse_workflow("x.yml", "on: push\njobs:\n  " + "k" * 5000 + ": 1\n")
    assert parsed.parse_error is not None
    assert len(parsed.parse_error) < 260


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_any_bytes_give_a_workflow(data):
    parsed = parse_workflow("fuzz.yml", data)
    assert isinstance(parsed, Workflow)
    assert parsed.path == "fuzz.yml"
    assert parsed.parse_error is None or "\n" not in parsed.parse_error


_KEYS = st.sampled_from(["on", "jobs", "steps", "uses", "with", "run", "name", "environment", "needs",
                        "permissions", "strategy", "matrix", "secrets", "push", "branches", "tags", "if"])
_LEAF = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(), st.text(max_size=8),
                  st.sampled_from(["inherit", "actions/checkout@v4", "${{ secrets.X }}", "docker://a:1"]))
_TREE = st.recursive(_LEAF, lambda inner: st.one_of(
    st.lists(inner, max_size=4), st.dictionaries(st.one_of(_KEYS, st.integers()), inner, max_size=5)),
    max_leaves=30)


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(_KEYS, _TREE, max_size=6))
def test_any_yaml_document_gives_a_workflow(doc):
    """Every value in every place may have the wrong type: still a Workflow, never an exception."""
    parsed = parse_workflow("fuzz.yml", yaml.safe_dump(doc))
    assert isinstance(parsed, Workflow)
    assert parsed.parse_error is None or "\n" not in parsed.parse_error


_YAMLISH = st.text(alphabet=st.sampled_from(list("onpushjb:-[]{}!&*'\"#|> \n\t?,.$ab0123")), max_size=200)


@settings(max_examples=300, deadline=None)
@given(_YAMLISH)
def test_any_yaml_shaped_text_gives_a_workflow(text):
    parsed = parse_workflow("fuzz.yml", "on: push\njobs:\n  a:\n    steps:\n" + text)
    assert isinstance(parsed, Workflow)
