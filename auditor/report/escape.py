"""Make strings that came from GitHub inert in Markdown, and short enough to display.

Repository, branch, workflow, secret and pull-request names are chosen by whoever controls the
audited repositories, so a report must never let them format, link, mention or inject markup.
HTML output relies on Jinja's autoescaping; Markdown has no such thing, so `md_text` escapes
every construct GitHub-flavoured Markdown would act on, and `md_code` builds a code span that
cannot be broken out of. Both truncate: a 5,000-character branch name must not swallow a page.
"""

from __future__ import annotations

import re

ELLIPSIS = "\u2026"
ZWJ = "\u200d"  # zero-width joiner: breaks @mention and #123 autolinking without visible change

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_WHITESPACE_RUN = re.compile(r"\s+")
# Characters with meaning in CommonMark/GFM inline syntax; every ASCII punctuation may be escaped.
_MD_PUNCT = re.compile(r"([\\`*_{}\[\]()!|~$])")
# Things GitHub turns into links or notifications after Markdown is parsed, so escaping is not enough.
_ISSUE_REF = re.compile(r"#(?=\d)")
_GH_REF = re.compile(r"\b(GH)-(?=\d)", re.IGNORECASE)
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(?=//)")
_WWW = re.compile(r"\b(www)\.", re.IGNORECASE)


class MdSafe(str):
    """A string already made safe for Markdown; the Markdown environment prints it unchanged."""

    __slots__ = ()


def clean(value: object) -> str:
    """One line of text: control and bidi-override characters removed, whitespace collapsed."""
    text = _CONTROL.sub("", str(value))
    return _WHITESPACE_RUN.sub(" ", text).strip()


def truncate(value: object, limit: int) -> str:
    """`value` cleaned and cut to at most `limit` characters, ending with an ellipsis when cut."""
    text = clean(value)
    if len(text) <= limit:
        return text
    return text[: max(limit - 1, 0)].rstrip() + ELLIPSIS


def md_text(value: object, limit: int = 300) -> MdSafe:
    """Inline Markdown that displays `value` literally: no markup, links, mentions or HTML.

    Backslash escapes cover emphasis, code, links/images (`[`, `]`, `(`, `!`), table pipes and
    list/heading markers; `<`, `>` and `&` become entities so no tag or entity survives; `@name`,
    `#123`, `GH-123`, `scheme://` and `www.` get a zero-width joiner because GitHub links them in
    text nodes after parsing, where a backslash no longer protects them.
    """
    if isinstance(value, MdSafe):
        return value
    text = truncate(value, limit)
    text = text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    text = text.replace("@", "@" + ZWJ)  # mentions, team mentions and e-mail autolinks
    text = _ISSUE_REF.sub("#" + ZWJ, text)
    text = _GH_REF.sub(lambda m: m.group(1) + "-" + ZWJ, text)
    text = _SCHEME.sub(lambda m: m.group(1) + ZWJ + ":", text)
    text = _WWW.sub(lambda m: m.group(1) + ZWJ + ".", text)
    text = _MD_PUNCT.sub(r"\\\1", text)
    text = text.replace("#", "\\#")
    # List markers ("-", "+", "1.") only act at the start of a line, where a value may stand.
    text = re.sub(r"^([-+])", r"\\\1", text)
    text = re.sub(r"^(\d+)\.", r"\1\\.", text)
    return MdSafe(text)


def md_code(value: object, limit: int = 300, *, in_table: bool = True) -> MdSafe:
    """A code span showing `value` literally; GitHub neither links nor mentions inside code.

    The fence is one backtick longer than the longest run inside, padded when the content starts
    or ends with a backtick. In a table cell a pipe must still be escaped (GFM splits cells before
    parsing code spans, and renders `\\|` inside a code span as `|`).
    """
    text = truncate(value, limit)
    if not text:
        return MdSafe("")
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    if text.startswith("`") or text.endswith("`"):
        text = f" {text} "
    if in_table:
        text = text.replace("|", "\\|")
    return MdSafe(f"{fence}{text}{fence}")


_SAFE_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")


def safe_identifier(value: str) -> bool:
    """Whether `value` may appear in a URL path or HTML id as is (rule ids, never GitHub names)."""
    return bool(_SAFE_ID.match(value))
