"""A tiny HTTP client for sandbox tests (stdlib only, so failures point at the sandbox)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from auditor.sandbox import DEMO_WORLD, load_world

PINNED_NOW = datetime(2026, 3, 2, tzinfo=UTC)
DEMO = "sandbox-demo-token"


def demo_world() -> Any:
    return load_world(DEMO_WORLD, now=PINNED_NOW)


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    raw: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.raw)


def call(base: str, path: str, token: str | None = DEMO, method: str = "GET", body: Any = None,
         headers: dict[str, str] | None = None) -> Answer:
    url = path if path.startswith("http") else base + path
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if token is not None:
        req.add_header("Authorization", f"token {token}")
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=10) as resp:
            return Answer(resp.status, {k.lower(): v for k, v in resp.headers.items()}, resp.read())
    except urllib.error.HTTPError as err:
        return Answer(err.code, {k.lower(): v for k, v in err.headers.items()}, err.read())
