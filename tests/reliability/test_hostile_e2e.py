"""Hostile content end to end: a world whose names and texts are injection attempts, audited via the CLI.

tests/data/worlds/hostile.yml gives repository, branch, environment, secret, workflow and job names,
PR titles and bodies, commit messages and deployment descriptions that carry `<script>`, event-handler
attributes, `javascript:` links, Markdown links/images, `@mentions` and (substituted here) a 20,000
character PR title. Every payload sets `document.title` to PWNED if it ever runs.

- HTML: the report is opened in headless Chromium; the page's own script must run (so a silently
  broken page cannot pass), the title must not be PWNED, no element or attribute an injection would
  create may exist in the DOM, and the payloads must be visible as text.
- Markdown (the full report, and the short form used for PR comments and step summaries): rendered
  with markdown-it (CommonMark + tables, raw HTML allowed, as GitHub does before sanitising), it must
  contain no HTML that came from the data, no `javascript:` link, and no `@mention` outside code.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import pytest
from markdown_it import MarkdownIt

from auditor.history import History
from auditor.report.render import render
from auditor.sandbox import SandboxServer, load_world, serve
from auditor.trends import build_report_input
from tests.reliability.support import AuditRun, audit, record
from tests.test_report_browser import _run

ROOT = Path(__file__).resolve().parents[2]
WORLD = ROOT / "tests" / "data" / "worlds" / "hostile.yml"
POLICY = ROOT / "tests" / "data" / "policies" / "hostile.yml"
TOKEN = "sandbox-hostile-token"
PWNED = "PWNED"
LONG = "A" * 20_000


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    text = WORLD.read_text(encoding="utf-8").replace("LONGTITLE", LONG)
    with serve(load_world(text)) as s:
        yield s


@pytest.fixture(scope="module")
def run(server: SandboxServer, tmp_path_factory: pytest.TempPathFactory) -> AuditRun:
    out = tmp_path_factory.mktemp("hostile")
    result = audit(server.url, out, "--policy", str(POLICY), target=("--org", "evil-org"), formats="md,html,json",
                   env={"GITHUB_TOKEN": TOKEN})
    assert result.code in (0, 1), result.stderr
    return result


def test_the_payloads_reach_the_findings(run: AuditRun) -> None:
    """Without this the other tests could pass because nothing hostile was ever rendered."""
    findings = run.report["findings"]
    text = " ".join(f["repo"] + f["target"] + f["message"] for f in findings)
    for payload in ("<img src=x onerror=", "<script>document.title", "<svg onload=", "javascript:document.title",
                    "@here", "@everyone"):
        assert payload in text, payload
    assert {f["repo"] for f in findings} == {"evil-org/javascript-alert",
                                            "evil-org/x\"><img src=x onerror=document.title='PWNED'>"}


class _Dom(HTMLParser):
    """Every tag and attribute of a page, to find what an injection would have created."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, list[tuple[str, str | None]]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, attrs))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _dom(html: str) -> _Dom:
    parser = _Dom()
    parser.feed(html)
    return parser


def _injected(dom: _Dom) -> list[str]:
    """Elements/attributes that only the payloads would create (the page has one script and one style)."""
    bad = []
    counts = {"script": 0, "style": 0}
    for tag, attrs in dom.tags:
        if tag in counts:
            counts[tag] += 1
        if tag in ("img", "iframe", "object", "embed", "base"):
            bad.append(f"<{tag} {attrs}>")
        if tag == "svg" and not any(k in ("class", "aria-hidden") for k, _ in attrs):
            bad.append(f"<svg {attrs}>")
        for key, value in attrs:
            text = (value or "").strip().lower()
            if key.startswith("on") or text.startswith("javascript:") or PWNED.lower() in text:
                bad.append(f"<{tag} {key}={value!r}>")
    bad.extend(f"{n} <{tag}> elements" for tag, n in counts.items() if n > 1)
    return bad


@pytest.mark.browser
def test_html_report_in_chromium_runs_no_injected_script(run: AuditRun, tmp_path: Path) -> None:
    page = run.out / "report.html"
    source = page.read_text(encoding="utf-8")
    scripts = re.findall(r"<script\b", source)
    assert len(scripts) == 1, "the page has exactly one script of its own"
    proc = _run(page, tmp_path / "profile", "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom_text = proc.stdout
    assert 'data-report-js="ready"' in dom_text, "the page's own script did not run"
    title = re.search(r"<title>(.*?)</title>", dom_text, flags=re.DOTALL)
    assert title is not None and PWNED not in title.group(1)
    dom = _dom(dom_text)
    assert _injected(dom) == []
    shown = "".join(dom.text)
    assert "<img src=x onerror=document.title='PWNED'>" in shown  # displayed as text, not dropped
    assert "<script>document.title='PWNED'</script>" in shown
    assert LONG not in source, "a 20,000-character title must be truncated in the page"
    record("Hostile content (HTML in Chromium)", payload_fields=9, injected_scripts_run=0)


def _md_problems(markdown: str) -> list[str]:
    """What GitHub would act on in `markdown`: HTML from data, javascript: links, mentions outside code."""
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    problems = []

    def walk(tokens: list[Any], in_link: bool = False) -> None:
        for tok in tokens:
            if tok.type in ("html_inline", "html_block") and not re.fullmatch(
                    r"\s*<(/?details|/?summary|/?sub|/?sup|br ?/?|!--.*?--)>\s*", tok.content, flags=re.DOTALL):
                problems.append(f"raw HTML: {tok.content[:80]!r}")
            if tok.type in ("link_open", "image"):
                href = str(tok.attrs.get("href") or tok.attrs.get("src") or "")
                if not href.startswith(("https://", "http://", "#", "docs/", "../", "./")):
                    problems.append(f"link: {href[:80]!r}")
                if PWNED in href or "evil.invalid" in href:
                    problems.append(f"link from data: {href[:80]!r}")
            if tok.type == "text" and re.search(r"(?<![\w`])@[A-Za-z0-9]", tok.content):
                problems.append(f"mention: {tok.content[:80]!r}")
            if tok.children:
                walk(tok.children)

    walk(md.parse(markdown))
    return problems


def test_markdown_report_neither_pings_nor_injects(run: AuditRun) -> None:
    text = (run.out / "report.md").read_text(encoding="utf-8")
    assert "onerror" in text  # the payloads are there (escaped)
    assert _md_problems(text) == []
    assert LONG not in text


def test_short_markdown_for_pr_comments_neither_pings_nor_injects(run: AuditRun) -> None:
    history = History.open(str(run.out / "history.sqlite"))
    try:
        report = build_report_input(history, at=history.latest_run().id)  # type: ignore[union-attr]
    finally:
        history.close()
    short = render("md", report, short=True)
    assert "onerror" in short
    assert _md_problems(short) == []
    assert len(short) <= 65_535
    record("Hostile content (Markdown)", renderings=2, injections=0, mentions=0)


@pytest.mark.parametrize("payload", ["<img src=x onerror=alert(1)>", "@everyone", "[x](https://evil.invalid/x)",
                                     "![x](https://evil.invalid/x.png)",
                                     "<script>alert(1)</script>"])
def test_the_markdown_checker_catches_injections(payload: str) -> None:
    """The checker itself: unescaped payloads must be reported, or the tests above prove nothing."""
    assert _md_problems(f"| repo |\n|---|\n| {payload} |\n\nText {payload}\n")


@pytest.mark.parametrize("html", ["<p><img src=x onerror=\"document.title='PWNED'\"></p>",
                                  "<a href=\"javascript:document.title='PWNED'\">x</a>",
                                  "<script>1</script><script>document.title='PWNED'</script>",
                                  "<svg onload=\"document.title='PWNED'\"></svg>"])
def test_the_dom_checker_catches_injections(html: str) -> None:
    assert _injected(_dom(html))
