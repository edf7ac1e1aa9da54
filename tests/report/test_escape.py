"""Markdown escaping: every construct GitHub would act on is displayed literally."""

from __future__ import annotations

import pytest

from auditor.report.escape import ELLIPSIS, ZWJ, MdSafe, md_code, md_text, safe_identifier, truncate


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("plain words", "plain words"),
        ("@octocat", f"@{ZWJ}octocat"),
        ("ping @acme/admins", f"ping @{ZWJ}acme/admins"),
        ("fixes #123", f"fixes \\#{ZWJ}123"),
        ("GH-42", f"GH-{ZWJ}42"),
        ("a|b", "a\\|b"),
        ("<script>alert(1)</script>", "&lt;script&gt;alert\\(1\\)&lt;/script&gt;"),
        ("[x](javascript:alert(1))", "\\[x\\]\\(javascript:alert\\(1\\)\\)"),
        ("![i](https://e.x/p.png)", f"\\!\\[i\\]\\(https{ZWJ}://e.x/p.png\\)"),
        ("www.evil.example", f"www{ZWJ}.evil.example"),
        ("*em* _u_ ~~s~~ `c`", "\\*em\\* \\_u\\_ \\~\\~s\\~\\~ \\`c\\`"),
        ("# heading", "\\# heading"),
        ("- item", "\\- item"),
        ("+ item", "\\+ item"),
        ("1. item", "1\\. item"),
        ("a & b &amp;", "a &amp; b &amp;amp;"),
        ("$x^2$", "\\$x^2\\$"),
        ("back\\slash", "back\\\\slash"),
        ("line\nbreak\r\n\tand  tabs", "line break and tabs"),
        ("bidi\u202eoverride", "bidioverride"),
    ],
)
def test_md_text_displays_literally(raw: str, expected: str) -> None:
    assert md_text(raw) == expected


def test_md_text_truncates_long_strings_with_an_ellipsis() -> None:
    out = md_text("A" * 5000, 100)
    assert len(out) == 100
    assert out.endswith(ELLIPSIS)


def test_md_text_leaves_already_safe_values_alone() -> None:
    assert md_text(MdSafe("**bold**")) == "**bold**"


@pytest.mark.parametrize(
    ("raw", "in_table", "expected"),
    [
        ("branch:main", True, "`branch:main`"),
        ("a|b", True, "`a\\|b`"),
        ("a|b", False, "`a|b`"),
        ("has `tick` inside", True, "``has `tick` inside``"),
        ("`starts", True, "`` `starts ``"),
        ("a ``` b", True, "````a ``` b````"),
        ("", True, ""),
    ],
)
def test_md_code_cannot_be_broken_out_of(raw: str, in_table: bool, expected: str) -> None:
    assert md_code(raw, in_table=in_table) == expected


def test_truncate_collapses_whitespace_and_keeps_short_strings() -> None:
    assert truncate("  a \n b  ", 10) == "a b"
    assert truncate("abcdef", 4) == "abc" + ELLIPSIS


@pytest.mark.parametrize(
    ("value", "ok"),
    [
        ("branch-protected", True),
        ("env_x.1", True),
        ("../etc", False),
        ("a b", False),
        ("javascript:alert(1)", False),
        ("", False),
    ],
)
def test_safe_identifier(value: str, ok: bool) -> None:
    assert safe_identifier(value) is ok
