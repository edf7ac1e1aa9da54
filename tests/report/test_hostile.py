"""Strings from GitHub render inert: no script, handler, link, mention or table break survives."""

from __future__ import annotations

import re

from auditor.report.escape import ZWJ
from auditor.report.render import SHORT_BUDGET, render
from tests.report.fixtures import HOSTILE_LONG, RULES, many_findings, report_input


def _html() -> str:
    return render("html", report_input(), rules=RULES)


def _md(short: bool = False) -> str:
    return render("md", report_input(), rules=RULES, short=short)


def test_html_escapes_every_hostile_string() -> None:
    html = _html()
    assert "<script>document.title" not in html
    assert "&lt;script&gt;document.title=&#39;PWNED&#39;&lt;/script&gt;" in html
    assert "<img" not in html
    assert "<svg onload" not in html
    assert "<b>bold</b>" not in html
    # "onerror=" appears only inside escaped text, never as an attribute of a real tag.
    for tag in re.findall(r"<[a-zA-Z][^>]*>", html):
        assert "onerror" not in tag, tag
        assert "onload" not in tag, tag
        assert "javascript:" not in tag, tag


def test_html_has_exactly_one_script_and_no_external_resources() -> None:
    html = _html()
    assert html.count("<script") == 1
    assert not re.search(r"""(?:src|href)\s*=\s*["']?(?:https?:)?//""", html)
    assert "<link" not in html
    assert "@import" not in html
    assert "script-src &#39;sha256-" in html  # even an unescaped inline script could not run


def test_html_never_puts_github_strings_into_hrefs_or_ids() -> None:
    html = _html()
    for attr in re.findall(r"""(?:href|id)="([^"]*)\"""", html):
        assert re.fullmatch(r"[A-Za-z0-9#._-]*", attr), attr


def test_html_truncates_very_long_strings() -> None:
    html = _html()
    assert HOSTILE_LONG not in html
    assert "A" * 100 in html


def test_markdown_neutralises_mentions_refs_links_and_html() -> None:
    for md in (_md(), _md(short=True)):
        assert f"@{ZWJ}octocat" in md
        assert HOSTILE_LONG not in md
        # Code spans show text literally (GitHub links nothing inside them); check the rest.
        text = re.sub(r"(`+)(?:(?!\1).)+?\1", "", md)
        for needle in (
            "@octocat",
            "@everyone",
            "@acme/admins",
            "#123",
            "](javascript:",
            "![",
            "<script",
            "<img",
            "<b>",
            "https://evil",
        ):
            assert needle not in text, needle


def test_markdown_table_rows_keep_their_column_count() -> None:
    md = _md()
    for block in re.findall(r"((?:^\|.*\|$\n?)+)", md, flags=re.MULTILINE):
        rows = block.strip().splitlines()
        widths = {len(re.findall(r"(?<!\\)\|", row)) for row in rows}
        assert len(widths) == 1, rows


def test_short_markdown_fits_a_github_comment_and_says_what_it_left_out() -> None:
    short = render("md", many_findings(600), rules=RULES, short=True)
    assert len(short) <= SHORT_BUDGET < 65_535
    match = re.search(r"…and (\d+) more failing findings; see the HTML report\.", short)
    assert match is not None
    shown = len(re.findall(r"^\| (?:CRITICAL|HIGH|MEDIUM|LOW|INFO) \|", short, flags=re.MULTILINE))
    assert shown + int(match.group(1)) == 606
    assert "Short form: leaves out" in short
    full = render("md", many_findings(600), rules=RULES)
    assert len(full) > 65_535  # the long form really would not have fitted


def test_short_markdown_keeps_everything_when_it_fits() -> None:
    short = _md(short=True)
    assert "more failing findings" not in short
    assert short.count("| CRITICAL |") == 2
