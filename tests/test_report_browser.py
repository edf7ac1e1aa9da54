"""The HTML report in a real headless Chromium: the page's script runs, no injected one does.

The hostile fixture carries `<script>document.title='PWNED'</script>` and `onerror=` payloads in
repository, branch, message and waiver strings. The page's own script marks `<html>` with
`data-report-js="ready"`; the test dumps the DOM after load and checks the marker is there,
`PWNED` never reached the title, and Chromium logged no uncaught error or CSP refusal.
Needs Debian's `chromium`; skipped without it, except under CI=true where it must be present.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from auditor.report.render import render
from tests.report.fixtures import PWNED, RULES, report_input

pytestmark = pytest.mark.browser


def _chromium() -> str:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if candidate and Path(candidate).exists():
            return candidate
    if os.environ.get("CI") == "true":
        pytest.fail("chromium is required under CI=true (apt-get install -y chromium)")
    pytest.skip("chromium not installed")


def _run(page: Path, profile: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    cmd = [
        _chromium(),
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--disable-extensions",
        f"--user-data-dir={profile}",
        "--enable-logging=stderr",
        "--v=0",
        "--virtual-time-budget=3000",
        *extra,
        page.as_uri(),
    ]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)


def _console_errors(stderr: str) -> list[str]:
    return [
        line
        for line in stderr.splitlines()
        if "Uncaught" in line or "Refused to" in line or "Content Security Policy" in line
    ]


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("html") / "report.html"
    path.write_text(render("html", report_input(), rules=RULES), encoding="utf-8")
    return path


def test_page_script_runs_and_injected_scripts_do_not(page: Path, tmp_path: Path) -> None:
    proc = _run(page, tmp_path / "profile", "--dump-dom")
    assert proc.returncode == 0, proc.stderr[-2000:]
    dom = proc.stdout
    assert 'data-report-js="ready"' in dom, "the page's own script did not run"
    title = re.search(r"<title>(.*?)</title>", dom, flags=re.DOTALL)
    assert title is not None
    assert PWNED not in title.group(1)
    assert "&lt;script&gt;document.title='PWNED'&lt;/script&gt;" in dom  # shown as text
    assert dom.count('class="sort"') >= 20  # sortable headers were wired up
    assert _console_errors(proc.stderr) == []


def test_console_errors_are_detected(tmp_path: Path) -> None:
    """The error check itself works: a page with a throwing script is caught."""
    broken = tmp_path / "broken.html"
    broken.write_text("<!DOCTYPE html><title>x</title><script>undefinedFunction();</script>", encoding="utf-8")
    proc = _run(broken, tmp_path / "profile", "--dump-dom")
    assert any("Uncaught" in line for line in _console_errors(proc.stderr)), proc.stderr[-2000:]


def test_screenshot_renders(page: Path, tmp_path: Path) -> None:
    shot = tmp_path / "report.png"
    proc = _run(page, tmp_path / "profile", "--hide-scrollbars", "--window-size=1280,2400", f"--screenshot={shot}")
    assert proc.returncode == 0, proc.stderr[-2000:]
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(data) > 50_000  # a blank page compresses to a few kilobytes
