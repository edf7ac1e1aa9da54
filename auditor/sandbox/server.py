"""The sandbox's HTTP layer: auth, rate limits, ETags, pagination links, faults and a request log.

Built on the standard library's ThreadingHTTPServer (in a daemon thread), so the sandbox ships with
the package and needs no extra dependency. The answers' headers mirror GitHub's (rate-limit
headers on every response, `ETag`, `Link`, `Date`, `Server: GitHub.com`), because clients such as
PyGithub read their budget, pagination and cache state from them.
"""

from __future__ import annotations

import email.utils
import fnmatch
import hashlib
import json
import socket
import struct
import threading
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from .api import Api, Request, Response, error
from .state import Token
from .world import World, load_world

FAULT_KINDS = ("status", "secondary_limit", "primary_limit", "timeout", "reset", "truncated", "non_json")
EXPOSE = ("ETag, Link, Location, Retry-After, X-GitHub-OTP, X-RateLimit-Limit, X-RateLimit-Remaining, "
          "X-RateLimit-Used, X-RateLimit-Resource, X-RateLimit-Reset, X-OAuth-Scopes, X-Accepted-OAuth-Scopes, "
          "X-Poll-Interval, X-GitHub-Media-Type, X-GitHub-SSO, X-GitHub-Request-Id, Deprecation, Sunset")
RATE_DOC = "https://docs.github.com/rest/overview/rate-limits-for-the-rest-api"


@dataclass
class FaultSpec:
    """One injected failure: which requests it hits, how often, and what the client sees.

    `kind` is one of status (answer `status`/`body`/`headers`), secondary_limit (403 with
    Retry-After), primary_limit (403 "API rate limit exceeded" with remaining 0), timeout (hold the
    request `delay_ms`, then drop it), reset (TCP reset), truncated (half the body, then close) and
    non_json (an HTML error page). `count` caps how many times it fires; `every_nth` fires it on
    every n-th matching request only.
    """

    path: str = "*"
    method: str = "*"
    kind: str = "status"
    status: int = 500
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    count: int | None = None
    every_nth: int | None = None
    delay_ms: int = 30_000
    seen: int = 0
    fired: int = 0

    @classmethod
    def from_dict(cls, data: Mapping[str, Any], where: str = "fault") -> FaultSpec:
        from .spec import WorldError

        known = {"path", "method", "kind", "status", "body", "headers", "count", "every_nth", "delay_ms"}
        unknown = sorted(set(data) - known)
        if unknown:
            raise WorldError([f"{where}: unknown key(s) {', '.join(unknown)} (known: {', '.join(sorted(known))})"])
        kind = data.get("kind", "status")
        if kind not in FAULT_KINDS:
            raise WorldError([f"{where}.kind: must be one of {', '.join(FAULT_KINDS)}, got {kind!r}"])
        try:
            return cls(
                path=str(data.get("path", "*")), method=str(data.get("method", "*")).upper(), kind=kind,
                status=int(data.get("status", 500)), body=data.get("body"),
                headers={str(k): str(v) for k, v in (data.get("headers") or {}).items()},
                count=None if data.get("count") is None else int(data["count"]),
                every_nth=None if data.get("every_nth") is None else int(data["every_nth"]),
                delay_ms=int(data.get("delay_ms", 30_000)),
            )
        except (TypeError, ValueError, AttributeError) as exc:
            raise WorldError([f"{where}: {exc}"]) from exc

    def matches(self, method: str, path: str) -> bool:
        return (self.method in ("*", method)) and fnmatch.fnmatchcase(path, self.path)

    def fires(self) -> bool:
        """Count one matching request and say whether this one is hit."""
        self.seen += 1
        if self.count is not None and self.fired >= self.count:
            return False
        if self.every_nth and self.seen % self.every_nth:
            return False
        self.fired += 1
        return True


def token_hash(value: str | None) -> str:
    """What the log keeps of a token: never the token itself."""
    if value is None:
        return "anonymous"
    return "sha256:" + hashlib.sha256(value.encode()).hexdigest()[:16]


@dataclass
class _Budget:
    limit: int
    used: int
    reset: int


class SandboxServer:
    """A running sandbox; use `serve()` to start one, or as a context manager."""

    def __init__(self, world: World, host: str = "127.0.0.1", port: int = 0) -> None:
        self._world = world
        self._lock = threading.RLock()
        self._budgets: dict[str, _Budget] = {}
        self._faults: list[FaultSpec] = [FaultSpec.from_dict(f, f"world.faults[{i}]")
                                         for i, f in enumerate(world.spec.get("faults", []))]
        self._latency_ms = int(world.spec.get("latency_ms", 0))
        self._log: list[dict[str, Any]] = []
        self._closing = threading.Event()
        self._httpd = _HTTPServer((host, port), _Handler, self)
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="github-sandbox", daemon=True)
        self._thread.start()

    # -- public API ----------------------------------------------------------------------------------

    @property
    def host(self) -> str:
        return str(self._httpd.server_address[0])

    @property
    def port(self) -> int:
        return int(self._httpd.server_address[1])

    @property
    def url(self) -> str:
        """The base URL a client passes as GitHub's API root (no trailing slash)."""
        return f"http://{self.host}:{self.port}"

    @property
    def world(self) -> World:
        return self._world

    @world.setter
    def world(self, world: World) -> None:
        """Swap the world at run time (e.g. the next week); budgets and the log carry on."""
        with self._lock:
            self._world = world

    def set_faults(self, faults: Iterable[FaultSpec | Mapping[str, Any]]) -> None:
        """Replace the injected faults (an empty list clears them)."""
        built = [f if isinstance(f, FaultSpec) else FaultSpec.from_dict(f, f"faults[{i}]")
                 for i, f in enumerate(faults)]
        with self._lock:
            self._faults = built

    def set_latency(self, ms: int) -> None:
        """Delay every answer by `ms` milliseconds."""
        self._latency_ms = max(0, int(ms))

    def reset_rate_limits(self) -> None:
        with self._lock:
            self._budgets.clear()

    @property
    def stats(self) -> dict[str, Any]:
        """Counters and the request log (method, path, status, token hash); a snapshot copy."""
        with self._lock:
            log = [dict(e) for e in self._log]
        by_status: dict[str, int] = {}
        by_path: dict[str, int] = {}
        for e in log:
            by_status[str(e["status"])] = by_status.get(str(e["status"]), 0) + 1
            by_path[e["path"]] = by_path.get(e["path"], 0) + 1
        return {
            "requests": len(log),
            "by_status": by_status,
            "by_path": by_path,
            "not_modified": sum(1 for e in log if e["status"] == 304),
            "rate_limited": sum(1 for e in log if e.get("rate_limited")),
            "faults": sum(1 for e in log if e.get("fault")),
            "counted": sum(1 for e in log if e.get("counted")),
            "week": self._world.week,
            "log": log,
        }

    def reset_stats(self) -> None:
        with self._lock:
            self._log.clear()

    def shutdown(self) -> None:
        """Stop serving and release the port; held (timeout) requests are dropped."""
        self._closing.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> SandboxServer:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.shutdown()

    # -- request handling ----------------------------------------------------------------------------

    def _budget(self, key: str, limit: int) -> _Budget:
        now = int(time.time())
        window = self._world.state.rate_window_seconds
        b = self._budgets.get(key)
        if b is None or now >= b.reset:
            b = _Budget(limit=limit, used=0, reset=now + window)
            self._budgets[key] = b
        b.limit = limit
        return b

    def _rate_headers(self, b: _Budget) -> dict[str, str]:
        return {"X-RateLimit-Limit": str(b.limit), "X-RateLimit-Remaining": str(max(0, b.limit - b.used)),
                "X-RateLimit-Reset": str(b.reset), "X-RateLimit-Used": str(b.used), "X-RateLimit-Resource": "core"}

    def handle(self, handler: _Handler) -> None:
        """Answer one HTTP request (called on the handler's thread)."""
        split = urlsplit(handler.path)
        path = split.path or "/"
        query_pairs = parse_qsl(split.query, keep_blank_values=True)
        query = dict(query_pairs)
        method = handler.command
        if path == "/_sandbox/stats" and method == "GET":
            handler.send_json(200, self.stats, {})
            return
        if self._latency_ms:
            self._closing.wait(self._latency_ms / 1000)
        length = int(handler.headers.get("Content-Length") or 0)
        raw = handler.rfile.read(length) if length else b""
        auth = handler.headers.get("Authorization", "")
        token_value: str | None = None
        for prefix in ("token ", "bearer "):
            if auth.lower().startswith(prefix):
                token_value = auth[len(prefix):].strip()
        entry: dict[str, Any] = {"method": method, "path": path, "token": token_hash(token_value)}
        with self._lock:
            state = self._world.state
            token: Token | None = None
            if token_value is not None:
                token = state.tokens.get(token_value)
                if token is None:
                    self._finish(handler, entry, error(401, "Bad credentials"), {})
                    return
            if token is not None:
                key = token_hash(token_value)
                limit = token.rate_limit if token.rate_limit is not None else state.rate_limit
            else:
                key = "ip:" + handler.client_address[0]
                limit = state.anonymous_rate_limit
            if path == "/graphql":  # GraphQL points come out of a budget of their own, as on GitHub
                key += "#graphql"
            budget = self._budget(key, limit)
            fault = next((f for f in self._faults if f.matches(method, path) and f.fires()), None)
            if fault is None and path != "/rate_limit" and budget.used >= budget.limit:
                entry["rate_limited"] = True
                self._finish(handler, entry, self._primary_limit(state, token, handler, budget),
                             self._rate_headers(budget))
                return
            if fault is None:
                response, counted = self._answer(state, method, path, query, raw, token, budget, handler)
                entry["counted"] = counted
                headers = self._rate_headers(budget)
                if token is not None and token.kind == "classic":
                    headers["X-OAuth-Scopes"] = token.scopes
                    headers["X-Accepted-OAuth-Scopes"] = "repo"
                if response.pages is not None:
                    link = self._link(path, query_pairs, *response.pages)
                    if link:
                        headers["Link"] = link
                self._finish(handler, entry, response, headers)
                return
            entry["fault"] = fault.kind
            fault_headers = self._rate_headers(budget)
        self._fault(handler, entry, fault, fault_headers, state, token, budget)

    def _answer(self, state: Any, method: str, path: str, query: dict[str, str], raw: bytes, token: Token | None,
                budget: _Budget, handler: _Handler) -> tuple[Response, bool]:
        if path == "/graphql" and method == "POST":
            from .graphql import answer as graphql_answer

            response, points = graphql_answer(state, token, self.url, raw, (budget.limit, budget.used, budget.reset))
            budget.used += points
            return response, True
        if path == "/rate_limit" and method == "GET":
            from .shapes import rate_overview

            return Response(200, rate_overview(budget.limit, max(0, budget.limit - budget.used), budget.reset,
                                               budget.used)), False
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                return error(400, "Problems parsing JSON"), True
        req = Request(method=method, path=path, query=query, body=body, token=token, base=self.url)
        response = Api(state).handle(req)
        if method == "GET" and response.status == 200:
            payload = _dump(response.body)
            etag = '"' + hashlib.sha256(payload + token_hash(token.value if token else None).encode()).hexdigest() + '"'
            response.headers["ETag"] = etag
            wanted = handler.headers.get("If-None-Match", "")
            if wanted and etag.strip('"') in {t.strip().removeprefix("W/").strip('"') for t in wanted.split(",")}:
                return Response(304, None, {"ETag": etag}), False
        budget.used += 1
        return response, True

    def _primary_limit(self, state: Any, token: Token | None, handler: _Handler, budget: _Budget) -> Response:
        if token is None:
            who = (f"{handler.client_address[0]}. (But here's the good news: Authenticated requests get a higher "
                   "rate limit. Check out the documentation for more details.)")
        elif token.kind == "app":
            who = f"installation ID {token.user_id}."
        else:
            who = f"user ID {token.user_id}."
        status = state.rate_limit_status
        return error(status, f"API rate limit exceeded for {who}", RATE_DOC)

    def _link(self, path: str, query: list[tuple[str, str]], page: int, last: int) -> str:
        if last <= 1 and page <= 1:
            return ""
        kept = [(k, v) for k, v in query if k != "page"]

        def url(n: int) -> str:
            return f"{self.url}{path}?{urlencode([*kept, ('page', str(n))])}"

        parts = []
        if page > 1:
            parts.append(f'<{url(min(page - 1, last))}>; rel="prev"')
        if page < last:
            parts.append(f'<{url(page + 1)}>; rel="next"')
            parts.append(f'<{url(last)}>; rel="last"')
        if page > 1:
            parts.append(f'<{url(1)}>; rel="first"')
        return ", ".join(parts)

    def _finish(self, handler: _Handler, entry: dict[str, Any], response: Response, headers: dict[str, str]) -> None:
        entry["status"] = response.status
        with self._lock:
            self._log.append(entry)
        handler.send_json(response.status, response.body, {**headers, **response.headers})

    def _fault(self, handler: _Handler, entry: dict[str, Any], fault: FaultSpec, headers: dict[str, str],
               state: Any, token: Token | None, budget: _Budget) -> None:
        kind = fault.kind
        if kind == "status":
            body = fault.body if fault.body is not None else {"message": "Server Error"}
            self._finish(handler, entry, Response(fault.status, body, dict(fault.headers)), headers)
        elif kind == "secondary_limit":
            body = fault.body or {
                "message": "You have exceeded a secondary rate limit. Please wait a few minutes before you try "
                           "again. If you reach out to GitHub Support for help, please include the request ID "
                           f"{handler.request_id}.",
                "documentation_url": "https://docs.github.com/free-pro-team@latest/rest/overview/rate-limits-for-"
                                     "the-rest-api#about-secondary-rate-limits", "status": "403"}
            extra = {"Retry-After": "60", **fault.headers}
            self._finish(handler, entry, Response(fault.status if fault.status != 500 else 403, body, extra),
                         headers)
        elif kind == "primary_limit":
            drained = {**headers, "X-RateLimit-Remaining": "0", "X-RateLimit-Used": str(budget.limit)}
            response = self._primary_limit(state, token, handler, budget)
            response.headers.update(fault.headers)
            self._finish(handler, entry, response, drained)
        elif kind == "non_json":
            entry["status"] = fault.status if fault.status != 500 else 502
            with self._lock:
                self._log.append(entry)
            page = (b"<!DOCTYPE html><html><head><title>Unicorn! &middot; GitHub</title></head>"
                    b"<body><h1>This page is taking too long to load.</h1></body></html>")
            handler.send_raw(entry["status"], page, {**headers, "Content-Type": "text/html; charset=utf-8"})
        else:
            entry["status"] = 0
            with self._lock:
                self._log.append(entry)
            if kind == "timeout":
                self._closing.wait(fault.delay_ms / 1000)
                handler.drop(reset=False)
            elif kind == "reset":
                handler.drop(reset=True)
            else:  # truncated
                payload = _dump(fault.body if fault.body is not None else {"message": "x" * 2048})
                handler.send_truncated(200, payload, headers)


def _dump(body: Any) -> bytes:
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler],
                 sandbox: SandboxServer) -> None:
        self.sandbox = sandbox
        super().__init__(address, handler)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "GitHub.com"
    sys_version = ""
    server: _HTTPServer

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.request_id = ""
        super().__init__(*args, **kwargs)

    def setup(self) -> None:
        """Disable Nagle: headers and body go out in two writes, which would otherwise wait ~40 ms
        for the client's delayed ACK on every keep-alive request."""
        super().setup()
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def version_string(self) -> str:
        return "GitHub.com"

    def date_time_string(self, timestamp: float | None = None) -> str:
        return email.utils.formatdate(timestamp, usegmt=True)

    def _dispatch(self) -> None:
        self.request_id = uuid.uuid4().hex[:20].upper()
        self.server.sandbox.handle(self)

    do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _dispatch  # noqa: N815 - http.server's naming

    def log_message(self, format: str, *args: Any) -> None:
        """Silence stderr: the sandbox keeps its own request log (`stats`)."""

    def _common(self, status: int, headers: dict[str, str], length: int, content_type: str | None) -> None:
        self.send_response(status)
        base = {
            "Cache-Control": "private, max-age=60, s-maxage=60",
            "Vary": "Accept, Authorization, Cookie, X-GitHub-OTP, Accept-Encoding, Accept, X-Requested-With",
            "X-GitHub-Media-Type": "github.v3; format=json",
            "x-github-api-version-selected": "2022-11-28",
            "Access-Control-Expose-Headers": EXPOSE,
            "Access-Control-Allow-Origin": "*",
            "X-Frame-Options": "deny",
            "X-Content-Type-Options": "nosniff",
            "X-XSS-Protection": "0",
            "Referrer-Policy": "origin-when-cross-origin, strict-origin-when-cross-origin",
            "Content-Security-Policy": "default-src 'none'",
            "X-GitHub-Request-Id": self.request_id or uuid.uuid4().hex[:20].upper(),
        }
        if content_type:
            base["Content-Type"] = content_type
        for k, v in {**base, **headers}.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(length))
        self.end_headers()

    def send_json(self, status: int, body: Any, headers: dict[str, str]) -> None:
        payload = b"" if status in (204, 304) or body is None else _dump(body)
        self._common(status, headers, len(payload), None if status in (204, 304) else
                     headers.get("Content-Type", "application/json; charset=utf-8"))
        if payload and self.command != "HEAD":
            self.wfile.write(payload)

    def send_raw(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        self._common(status, headers, len(payload), headers.get("Content-Type"))
        self.wfile.write(payload)

    def send_truncated(self, status: int, payload: bytes, headers: dict[str, str]) -> None:
        self._common(status, headers, len(payload), "application/json; charset=utf-8")
        self.wfile.write(payload[: len(payload) // 2])
        self.wfile.flush()
        self.close_connection = True
        self.drop(reset=False)

    def drop(self, reset: bool) -> None:
        """Close the connection without (the rest of) an answer; RST when `reset`."""
        self.close_connection = True
        try:
            if reset:
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            else:
                self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.connection.close()


def serve(world: World | str | Path | Mapping[str, Any] | None = None, host: str = "127.0.0.1",
          port: int = 0) -> SandboxServer:
    """Start a sandbox for `world` (a World, a path, a dict; default: the shipped demo world)."""
    if world is None:
        from .world import DEMO_WORLD

        world = DEMO_WORLD
    if not isinstance(world, World):
        world = load_world(world)
    return SandboxServer(world, host, port)


__all__ = ["FaultSpec", "SandboxServer", "serve", "token_hash"]
