"""A tiny local HTTP server that answers like GitHub from a route table, and logs every request.

Used by the client's retry tests (bursts of 502s, Retry-After, 429s, exhausted limits) and by the
collector tests that measure how many requests a plan costs. It is not the product's sandbox: it
knows nothing but the canned answers each test registers.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Route:
    path: str
    query: dict[str, str]
    replies: list[Reply]
    method: str = "GET"

    def matches(self, path: str, query: dict[str, str], method: str = "GET") -> bool:
        return (
            method == self.method and path == self.path and all(query.get(k) == v for k, v in self.query.items())
        )

    def next(self) -> Reply:
        return self.replies.pop(0) if len(self.replies) > 1 else self.replies[0]


@dataclass
class Logged:
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    method: str = "GET"
    body: Any = None


class FakeGitHub:
    """Routes are matched in registration order: method and path equal, the given query params present.

    Like GitHub, a GET whose `If-None-Match` equals the ETag of the reply it would get is answered
    304 with no body (and the same ETag).
    """

    def __init__(self) -> None:
        self.routes: list[Route] = []
        self.log: list[Logged] = []
        self.base_url = ""

    def add(
        self,
        path: str,
        *replies: Reply | Any,
        query: dict[str, str] | None = None,
        status: int = 200,
        headers: dict[str, str] | None = None,
        method: str = "GET",
    ) -> None:
        items = [r if isinstance(r, Reply) else Reply(status, r, dict(headers or {})) for r in replies]
        route = Route(path, dict(query or {}), items or [Reply(status, None, dict(headers or {}))], method)
        self.routes.append(route)

    def answer(
        self, path: str, query: dict[str, str], headers: dict[str, str], method: str = "GET", body: Any = None
    ) -> Reply:
        self.log.append(Logged(path, query, headers, method, body))
        for route in self.routes:
            if route.matches(path, query, method):
                reply = route.next()
                etag = next((v for k, v in reply.headers.items() if k.lower() == "etag"), None)
                if method == "GET" and etag is not None and headers.get("if-none-match") == etag:
                    return Reply(304, None, {"ETag": etag})
                return reply
        return Reply(404, {"message": "Not Found", "documentation_url": "https://docs.github.com/rest"})

    def writes(self) -> list[Logged]:
        """The logged requests that were not GETs."""
        return [entry for entry in self.log if entry.method != "GET"]

    def paths(self) -> list[str]:
        return [entry.path for entry in self.log]


class _Handler(BaseHTTPRequestHandler):
    fake: FakeGitHub

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def _serve(self, method: str) -> None:
        parts = urlsplit(self.path)
        query = dict(parse_qsl(parts.query))
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body = json.loads(raw) if raw else None
        reply = self.fake.answer(parts.path, query, {k.lower(): v for k, v in self.headers.items()}, method, body)
        payload = (
            b""
            if reply.body is None
            else (reply.body.encode() if isinstance(reply.body, str) else json.dumps(reply.body).encode())
        )
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(payload)))
        for key, value in reply.headers.items():
            self.send_header(key, value)
        self.end_headers()
        if payload:
            self.wfile.write(payload)

    def log_message(self, format: str, *args: Any) -> None:  # keep test output quiet
        return


@contextmanager
def serve(fake: FakeGitHub) -> Iterator[FakeGitHub]:
    """Run `fake` on 127.0.0.1 on a free port for the duration of the block."""
    handler = type("Handler", (_Handler,), {"fake": fake})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.01}, daemon=True)
    thread.start()
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
