"""Secrets: the token and a GitHub App private key never appear in anything a run writes.

A fresh random token is added to the demo world, then the CLI runs in subprocesses at every
verbosity (quiet, default, --verbose with urllib3/PyGithub debug logging): an audit writing every
report format, the HTTP cache and the history; a resumed audit; `auditor report`; `auditor doctor`;
an audit whose token GitHub rejects (the exception path); an audit under injected faults (retries and
their log lines); and a GitHub App whose private key cannot be used (the key's error path). Then every
byte of stdout, stderr and every file under the run's folder is searched for the token, the key's
body, and their base64 forms. The recorded cassettes are searched for credentials the same way.
"""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from auditor.sandbox import DEMO_WORLD, SandboxServer, load_world, serve
from tests.reliability.support import ORG, record

ROOT = Path(__file__).resolve().parents[2]
TOKEN = "ghp_" + secrets.token_hex(18)  # never a real credential: random per run, known only to the sandbox


@pytest.fixture(scope="module")
def server() -> Iterator[SandboxServer]:
    spec = yaml.safe_load(Path(DEMO_WORLD).read_text(encoding="utf-8"))
    spec["tokens"].append({"value": TOKEN, "login": "leak-probe", "kind": "classic", "role": "admin",
                           "org_admin": True, "scopes": "read:org, repo, workflow, admin:org"})
    with serve(load_world(spec)) as s:
        yield s


def _pem() -> str:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption()).decode()


def _cli(args: list[str], env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[bytes]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("GITHUB_", "GH_"))}
    clean["PYTHONPATH"] = str(ROOT)
    return subprocess.run([sys.executable, "-m", "auditor.cli", *args], capture_output=True, timeout=120,
                          check=False, env={**clean, **env}, cwd=cwd)


def _needles(secret: str) -> list[bytes]:
    raw = secret.encode()
    return [raw, base64.b64encode(raw), base64.b64encode(raw)[4:-4], raw.hex().encode()]


def _leaks(haystacks: dict[str, bytes], secret_values: list[str]) -> list[str]:
    found = []
    for where, data in haystacks.items():
        for secret in secret_values:
            if any(n and n in data for n in _needles(secret)):
                found.append(where)
    return found


def _written(folder: Path) -> dict[str, bytes]:
    return {str(p): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_token_never_appears_in_anything_a_run_writes(server: SandboxServer, tmp_path: Path) -> None:
    out = tmp_path / "run"
    common = ["--base-url", server.url, "--api", "rest", "--output", str(out), "--history",
              str(out / "history.sqlite"), "--no-progress"]
    env = {"GITHUB_TOKEN": TOKEN}
    outputs: dict[str, bytes] = {}
    runs = {
        "audit --verbose": (["audit", "--org", ORG, *common, "--format", "md,html,json,sarif,csv",
                             "--cache-dir", str(out / "cache"), "--verbose"], env),
        "audit (cached, default verbosity)": (["audit", "--org", ORG, *common, "--format", "json",
                                               "--cache-dir", str(out / "cache")], env),
        "audit --quiet": (["audit", "--repo", f"{ORG}/payments-api", *common, "--quiet"], env),
        "report --verbose": (["report", "--history", str(out / "history.sqlite"), "--output", str(out / "rep"),
                              "--format", "md,html,json", "--verbose"], env),
        "doctor --verbose": (["doctor", "--org", ORG, "--base-url", server.url, "--verbose", "--sample", "2"], env),
        "rejected token --verbose": (["audit", "--org", ORG, *common, "--verbose"],
                                     {"GITHUB_TOKEN": TOKEN[:-4] + "dead"}),
    }
    server.set_faults([{"kind": "status", "status": 502, "path": "/repos/*/environments", "count": 1},
                       {"kind": "reset", "path": "/repos/*/hooks", "count": 1}])
    try:
        for name, (args, run_env) in runs.items():
            proc = _cli(args, run_env, tmp_path)
            assert proc.returncode in (0, 1, 3), (name, proc.stderr[-2000:])
            outputs[f"{name}: stdout"] = proc.stdout
            outputs[f"{name}: stderr"] = proc.stderr
    finally:
        server.set_faults([])
    assert b"DEBUG" in outputs["audit --verbose: stderr"], "--verbose must actually log at debug level"
    assert b"HTTP 401" in outputs["rejected token --verbose: stderr"] or \
        b"credentials" in outputs["rejected token --verbose: stderr"]
    files = _written(tmp_path)
    assert any(name.endswith("history.sqlite") for name in files)
    assert any("/cache/" in name for name in files), "the HTTP cache was written"
    assert {Path(n).name for n in files} >= {"report.md", "report.html", "audit.json", "audit.sarif"}
    leaks = _leaks({**outputs, **files}, [TOKEN, TOKEN[:-4] + "dead"])
    record("Secrets: token", places_searched=len(outputs) + len(files), leaks_found=len(leaks))
    assert leaks == []


def test_app_private_key_never_appears(server: SandboxServer, tmp_path: Path) -> None:
    pem = _pem()
    body = "".join(pem.strip().splitlines()[1:-1])
    key_file = tmp_path / "app.pem"
    key_file.write_text(pem, encoding="utf-8")
    outputs: dict[str, bytes] = {}
    for name, key in (("PEM text", pem), ("PEM path", str(key_file)), ("broken PEM", pem[:400])):
        env = {"GITHUB_APP_ID": "12345", "GITHUB_APP_PRIVATE_KEY": key, "GITHUB_APP_INSTALLATION_ID": "678"}
        proc = _cli(["audit", "--org", ORG, "--base-url", server.url, "--api", "rest", "--output",
                     str(tmp_path / "out"), "--history", str(tmp_path / "out" / "h.sqlite"), "--no-progress",
                     "--verbose"], env, tmp_path)
        assert proc.returncode == 3, (name, proc.stderr[-2000:])  # the sandbox knows no App: it cannot run
        assert b"Traceback" not in proc.stderr, (name, proc.stderr[-2000:])
        outputs[f"{name}: stdout"] = proc.stdout
        outputs[f"{name}: stderr"] = proc.stderr
    files = {k: v for k, v in _written(tmp_path).items() if not k.endswith("app.pem")}
    lines = [line for line in pem.strip().splitlines()[1:-1] if len(line) > 40]
    leaks = _leaks({**outputs, **files}, [body, *lines])
    record("Secrets: App private key", places_searched=len(outputs) + len(files), leaks_found=len(leaks))
    assert leaks == []


def test_recorded_cassettes_hold_no_credentials() -> None:
    """Cassettes are recorded with Authorization filtered; no token-shaped value may be in them."""
    import re

    pattern = re.compile(rb"(gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|-----BEGIN [A-Z ]*PRIVATE KEY|"
                         rb"(?im:^\s*-?\s*authorization:\s*(?:token|bearer)\s+\S+))")
    cassettes = [p for p in (ROOT / "tests").rglob("*") if p.is_file() and "cassettes" in p.parts
                 and p.suffix in (".yaml", ".yml", ".json")]
    assert cassettes
    hits = [str(p) for p in cassettes if pattern.search(p.read_bytes())]
    record("Secrets: cassettes", places_searched=len(cassettes), leaks_found=len(hits))
    assert hits == []
