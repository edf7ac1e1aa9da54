"""One instrumented GitHub REST client per worker, built on PyGithub's requester.

PyGithub's typed objects complete themselves lazily with hidden GETs and its `GithubRetry`
sleeps on the wall clock, so the collector sends every GET through `Requester.requestJson` (auth,
base URL, user agent and connection pooling stay PyGithub's) and runs its own retry loop around
it. That loop sees every attempt, so the cost it reports is exact: requests sent, retries, 304s,
and rate-limit units. Errors come back as `Response` values, not exceptions, because for an auditor
a 403 or 404 is an answer to record; only 401 (`AuthError`), unreachable hosts (`TransportError`)
and over-long rate-limit waits (`RateLimitWaitTooLongError`) raise.

With an `EtagCache`, every GET (each page of a list too) is conditional: a 304 is served from the
cache, counted as `not_modified` and costs no rate-limit units. The gate's few writes go through
`write` (PyGithub's `requestJsonAndCheck`), metered the same way but retried far more cautiously.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import quote

import requests
from github import Auth, Github, GithubException

from auditor.github import retry as rp
from auditor.github.auth import DEFAULT_BASE_URL
from auditor.github.errors import (
    AuthError,
    CollectError,
    RateLimitWaitTooLongError,
    TransportError,
    UnexpectedResponseError,
)
from auditor.github.limiter import SharedLimiter
from auditor.model import ApiCost

Sleeper = Callable[[float], None]
Clock = Callable[[], float]

_LINK_NEXT = re.compile(r'<([^>]+)>\s*;\s*rel="next"')
# A cached body that came with a Link header is stored as PREFIX + link + "\n" + body, because a
# 304 need not repeat the Link header and a page served from the cache must still lead to the next.
_LINK_PREFIX = "\x00link:"


def _pack(link: str | None, body: str) -> str:
    return f"{_LINK_PREFIX}{link}\n{body}" if link else body


def _unpack(stored: str) -> tuple[str | None, str]:
    if not stored.startswith(_LINK_PREFIX):
        return None, stored
    link, _, body = stored[len(_LINK_PREFIX) :].partition("\n")
    return link, body


def seg(value: str) -> str:
    """One URL path segment (branch and environment names may contain '/', ' ' or '#')."""
    return quote(value, safe="")


@dataclass(frozen=True)
class Response:
    """What GitHub answered: status, lower-cased headers and the body text."""

    status: int
    headers: Mapping[str, str]
    body: str
    url: str = ""
    from_cache: bool = False

    @property
    def ok(self) -> bool:
        """2xx (a 304 served from the cache is reported as the cached 200)."""
        return 200 <= self.status < 300

    def json(self) -> Any:
        """The parsed body; None for an empty body (204)."""
        return json.loads(self.body) if self.body else None

    @property
    def message(self) -> str:
        """GitHub's error `message`, or ""."""
        return rp.message_of(self.body)

    @property
    def accepted_permissions(self) -> str | None:
        """The fine-grained permission GitHub says the endpoint needs, readable.

        `X-Accepted-GitHub-Permissions: contents=read; administration=read` becomes
        "Contents: read or Administration: read".
        """
        raw = self.headers.get("x-accepted-github-permissions")
        if not raw:
            return None
        parts = []
        for item in re.split(r"[;,]", raw):
            name, _, level = item.strip().partition("=")
            if name:
                label = name.replace("_", " ").capitalize()
                parts.append(f"{label}: {level}" if level else label)
        return " or ".join(parts) or None


class EtagCache(Protocol):
    """Where conditional-request validators and bodies are kept between runs."""

    def get(self, key: str) -> tuple[str, str] | None:
        """(etag, body) stored for `key`."""

    def put(self, key: str, etag: str, body: str) -> None:
        """Remember the body GitHub sent with `etag`."""


@dataclass
class MemoryEtagCache:
    """An in-process EtagCache (the CLI may persist one per token identity)."""

    entries: dict[str, tuple[str, str]] = field(default_factory=dict)

    def get(self, key: str) -> tuple[str, str] | None:
        """(etag, body) stored for `key`."""
        return self.entries.get(key)

    def put(self, key: str, etag: str, body: str) -> None:
        """Remember the body GitHub sent with `etag`."""
        self.entries[key] = (etag, body)


@dataclass
class _Meter:
    """Mutable counters behind `GitHubClient.cost`."""

    requests: int = 0
    retries: int = 0
    not_modified: int = 0
    rate_limit_used: int = 0
    graphql_points: int = 0
    last_used: dict[tuple[str, str], int] = field(default_factory=dict)

    def record(self, status: int, headers: Mapping[str, str]) -> None:
        """Count one response that came back from GitHub.

        Units: a 304 is free (documented). Otherwise one unit, unless `x-ratelimit-used` shows
        that the same rate-limit window did not move since this client's previous answer
        (free endpoints such as /rate_limit). Deltas larger than one are not used, because other
        workers sharing the token move the same counter.
        """
        self.requests += 1
        if status == 304:
            self.not_modified += 1
            return
        used, reset = headers.get("x-ratelimit-used"), headers.get("x-ratelimit-reset")
        resource = headers.get("x-ratelimit-resource", "core")
        if used is not None and used.isdigit() and reset is not None:
            key = (resource, reset)
            previous = self.last_used.get(key)
            self.last_used = {key: int(used)}
            if previous is not None and int(used) == previous:
                return
        self.rate_limit_used += 1


class GitHubClient:
    """A PyGithub `Github` plus the retry loop, the cost meter and an optional ETag cache."""

    def __init__(
        self,
        auth: Auth.Auth | None = None,
        base_url: str = DEFAULT_BASE_URL,
        *,
        policy: rp.RetryPolicy | None = None,
        timeout: int = 30,
        sleeper: Sleeper = time.sleep,
        clock: Clock = time.time,
        cache: EtagCache | None = None,
        identity: str = "anonymous",
        user_agent: str = "auditor",
        limiter: SharedLimiter | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.policy = policy or rp.RetryPolicy()
        self._sleep = sleeper
        self._clock = clock
        self._cache = cache
        self._identity = identity
        self._meter = _Meter()
        self._limiter = limiter or SharedLimiter()
        self._last_write: float | None = None
        self.github = Github(
            auth=auth,
            base_url=self.base_url,
            timeout=timeout,
            user_agent=user_agent,
            per_page=100,
            lazy=True,
            retry=None,
            seconds_between_requests=None,
            seconds_between_writes=None,
        )

    def __repr__(self) -> str:
        return f"GitHubClient(base_url={self.base_url!r})"

    @property
    def cost(self) -> ApiCost:
        """What this client has cost so far."""
        m = self._meter
        return ApiCost(
            requests=m.requests,
            rate_limit_used=m.rate_limit_used,
            retries=m.retries,
            not_modified=m.not_modified,
            graphql_points=m.graphql_points,
        )

    def close(self) -> None:
        """Release the HTTP connection pool."""
        self.github.close()

    # ----------------------------------------------------------------------------------------

    def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Response:
        """GET `path` (relative to the API root, or an absolute URL from a Link header)."""
        url = path if "://" in path else self.base_url + path
        if params:
            sep = "&" if "?" in url else "?"
            url += sep + "&".join(f"{k}={quote(str(v), safe='')}" for k, v in params.items())
        headers: dict[str, str] = {}
        cached = self._cache.get(self._cache_key(url)) if self._cache is not None else None
        if cached:
            headers["If-None-Match"] = cached[0]
        resp = self._send(url, headers)
        if resp.status == 304 and cached:
            link, body = _unpack(cached[1])
            served = dict(resp.headers)
            if link and "link" not in served:
                served["link"] = link
            return Response(200, served, body, url, from_cache=True)
        if resp.status == 401:
            raise AuthError(f"GitHub rejected the credentials (HTTP 401: {resp.message or 'Bad credentials'})")
        etag = resp.headers.get("etag")
        if self._cache is not None and etag and resp.status == 200:
            self._cache.put(self._cache_key(url), etag, _pack(resp.headers.get("link"), resp.body))
        return resp

    def write(self, method: str, path: str, payload: Mapping[str, Any]) -> Response:
        """POST/PATCH/PUT `payload` as JSON through PyGithub's `requestJsonAndCheck`; never cached.

        Metered like reads. Retried at most once, and only when GitHub refused it as rate-limited
        with a `retry-after` (see `retry.write_retry_wait`); writes are spaced by the policy's
        `write_interval`. A 5xx comes back as the answer; a lost connection raises
        `TransportError` without resending, since GitHub may have carried the write out.
        """
        url = path if "://" in path else self.base_url + path
        retried = False
        while True:
            self._throttle()
            self._space_write()
            try:
                status, resp_headers, body = self._raw_write(method, url, payload)
            except requests.RequestException as exc:
                raise TransportError(f"GitHub API unreachable during a {method}: {type(exc).__name__}") from exc
            finally:
                self._last_write = self._clock()
            self._meter.record(status, resp_headers)
            wait = None if retried else rp.write_retry_wait(status, resp_headers, body)
            if wait is None:
                if status == 401:
                    message = rp.message_of(body) or "Bad credentials"
                    raise AuthError(f"GitHub rejected the credentials (HTTP 401: {message})")
                if rp.classify(status, resp_headers, body) is rp.Kind.FINAL:
                    self._note_limits(resp_headers)
                return Response(status, resp_headers, body, url)
            self._wait(rp.bounded(wait, self.policy, resp_headers.get("x-ratelimit-resource", "core")))
            self._meter.retries += 1
            retried = True

    def paginate(
        self,
        path: str,
        params: Mapping[str, str | int] | None = None,
        key: str | None = None,
        stop: Callable[[Any], bool] | None = None,
    ) -> Iterator[Any]:
        """Yield the items of a list endpoint page by page (per_page=100), following Link rel=next.

        `key` names the array inside an object answer ({"total_count", "environments": [...]}).
        `stop(item)` true ends the walk without fetching further pages (sorted lists whose
        remaining items all fall outside the window). A non-2xx page raises `PageError`.
        """
        merged: dict[str, str | int] = {"per_page": 100}
        merged.update(params or {})
        url: str | None = path
        first = True
        while url:
            resp = self.get(url, merged if first else None)
            first = False
            if not resp.ok:
                raise PageError(resp)
            data = resp.json()
            items = data.get(key, []) if key and isinstance(data, dict) else data
            for item in items or []:
                if stop is not None and stop(item):
                    return
                yield item
            match = _LINK_NEXT.search(resp.headers.get("link", ""))
            url = match.group(1) if match else None

    def graphql(self, query: str, variables: Mapping[str, Any] | None = None) -> tuple[Any, list[Any], dict[str, str]]:
        """POST one GraphQL query: (data, errors, lower-cased headers), metered in GraphQL points.

        Points come from the answer's `rateLimit { cost }` when the query asked for it, else from
        the move of `x-ratelimit-used` of resource "graphql", else 1 (GitHub's minimum). Server
        errors (5xx, a lost connection, GitHub's "something went wrong") are not retried here but
        raised as `GraphQLServerError`, so that a batching caller can shrink the query instead of
        resending the one that just timed out. A primary or secondary rate limit is waited out
        like a REST one. 401 raises `AuthError`; other error statuses `UnexpectedResponseError`.
        """
        url = self.base_url + "/graphql"
        payload = {"query": query, "variables": dict(variables or {})}
        limit_attempts = 0
        while True:
            self._throttle()
            try:
                with self._limiter.slot():
                    status, raw_headers, body = self.github.requester.requestJson("POST", url, input=payload)
            except requests.RequestException as exc:
                self._meter.requests += 1
                raise GraphQLServerError(0, f"GitHub's GraphQL API did not answer: {type(exc).__name__}") from exc
            headers = {str(k).lower(): str(v) for k, v in raw_headers.items()}
            self._meter.requests += 1
            kind = rp.classify(status, headers, body)
            if (kind in (rp.Kind.PRIMARY_LIMIT, rp.Kind.SECONDARY_LIMIT)
                    and limit_attempts < self.policy.max_rate_limit_retries):
                wait = rp.rate_limit_wait(kind, headers, limit_attempts, self._clock(), self.policy)
                limit_attempts += 1
                self._wait(rp.bounded(wait, self.policy, "graphql"))
                self._meter.retries += 1
                continue
            break
        if status == 401:
            raise AuthError(f"GitHub rejected the credentials (HTTP 401: {rp.message_of(body) or 'Bad credentials'})")
        if status >= 500 or kind is rp.Kind.SERVER_ERROR:
            raise GraphQLServerError(status, rp.message_of(body) or f"HTTP {status}")
        if status != 200:
            self._note_limits(headers)
            raise UnexpectedResponseError(status, rp.message_of(body) or f"HTTP {status}")
        try:
            answer = json.loads(body) if body else {}
        except ValueError as exc:
            raise GraphQLServerError(status, "GitHub's GraphQL answer was not JSON") from exc
        data = answer.get("data") if isinstance(answer, dict) else None
        errors = list(answer.get("errors") or []) if isinstance(answer, dict) else []
        self._meter.graphql_points += self._graphql_points(data, headers)
        self._note_limits(headers)
        if data is None and any("something went wrong" in str(e.get("message", "")).lower()
                                for e in errors if isinstance(e, dict)):
            raise GraphQLServerError(status, "GitHub's GraphQL API gave up on the query (something went wrong)")
        return data, errors, headers

    def _graphql_points(self, data: Any, headers: Mapping[str, str]) -> int:
        """The points one GraphQL answer cost (see `graphql`)."""
        rate = data.get("rateLimit") if isinstance(data, dict) else None
        if isinstance(rate, dict) and isinstance(rate.get("cost"), int):
            return int(rate["cost"])
        used, reset = headers.get("x-ratelimit-used"), headers.get("x-ratelimit-reset")
        if headers.get("x-ratelimit-resource") == "graphql" and used and used.isdigit() and reset:
            key = ("graphql", reset)
            previous = self._meter.last_used.get(key)
            self._meter.last_used[key] = int(used)
            if previous is not None and int(used) > previous:
                return int(used) - previous
        return 1

    # ----------------------------------------------------------------------------------------

    def _cache_key(self, url: str) -> str:
        return f"{self._identity} {url}"

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._sleep(seconds)

    def _throttle(self) -> None:
        """Before sending: honour a pause any worker on this token was asked for (an exhausted
        primary budget, a Retry-After), bounded by `max_wait`."""
        wait = self._limiter.remaining_pause(self._clock())
        if wait > 0:
            self._wait(rp.bounded(wait, self.policy))

    def _note_limits(self, headers: Mapping[str, str]) -> None:
        self._limiter.note(headers)

    def _back_off(self, seconds: float) -> None:
        """Wait after a rate-limit answer, and make every other worker on the token wait too."""
        self._limiter.pause_until(self._clock() + seconds)
        self._wait(seconds)

    def _space_write(self) -> None:
        """Keep `write_interval` seconds between writes (GitHub's advice against secondary limits)."""
        if self._last_write is None:
            return
        self._wait(min(self.policy.write_interval - (self._clock() - self._last_write), self.policy.max_wait))

    def _raw_write(self, method: str, url: str, payload: Mapping[str, Any]) -> tuple[int, dict[str, str], str]:
        """One write attempt; PyGithub's exception for an error status is turned back into an answer."""
        requester = self.github.requester
        try:
            with self._limiter.slot():
                resp_headers, data = requester.requestJsonAndCheck(method, url, input=dict(payload))
        except GithubException as exc:
            headers = {str(k).lower(): str(v) for k, v in (exc.headers or {}).items()}
            return exc.status, headers, "" if exc.data is None else json.dumps(exc.data)
        body = "" if data is None else json.dumps(data)
        return 200, {str(k).lower(): str(v) for k, v in resp_headers.items()}, body

    def _raw(self, url: str, headers: dict[str, str]) -> tuple[int, dict[str, str], str]:
        requester = self.github.requester
        try:
            with self._limiter.slot():
                status, resp_headers, body = requester.requestJson("GET", url, headers=dict(headers))
        except GithubException as exc:
            # requestJson answers error statuses as data; an exception here comes from the GitHub
            # App's installation-token exchange, before our request was sent.
            what = f"the GitHub App could not get an installation token (HTTP {exc.status})"
            if exc.status in (401, 403, 404):
                raise AuthError(what) from exc
            raise UnexpectedResponseError(exc.status, what) from exc
        return status, {str(k).lower(): str(v) for k, v in resp_headers.items()}, body

    def _send(self, url: str, headers: dict[str, str]) -> Response:
        """The retry loop: one call per attempt, every attempt counted."""
        server_attempts = 0
        limit_attempts = 0
        while True:
            self._throttle()
            try:
                status, resp_headers, body = self._raw(url, headers)
            except requests.RequestException as exc:
                if server_attempts >= self.policy.max_retries:
                    raise TransportError(f"GitHub API unreachable: {type(exc).__name__}") from exc
                self._meter.retries += 1
                self._wait(rp.bounded(rp.server_error_wait({}, server_attempts, self.policy), self.policy,
                                      cause=f"retrying after a connection error ({type(exc).__name__})"))
                server_attempts += 1
                continue
            self._meter.record(status, resp_headers)
            kind = rp.classify(status, resp_headers, body)
            cause = None
            if kind is rp.Kind.SERVER_ERROR and server_attempts < self.policy.max_retries:
                wait = rp.server_error_wait(resp_headers, server_attempts, self.policy)
                server_attempts += 1
                cause = f"retrying after HTTP {status}"
            elif (
                kind in (rp.Kind.PRIMARY_LIMIT, rp.Kind.SECONDARY_LIMIT)
                and limit_attempts < self.policy.max_rate_limit_retries
            ):
                wait = rp.rate_limit_wait(kind, resp_headers, limit_attempts, self._clock(), self.policy)
                limit_attempts += 1
            else:
                if kind is rp.Kind.FINAL:
                    self._note_limits(resp_headers)
                return Response(status, resp_headers, body, url)
            bounded = rp.bounded(wait, self.policy, resp_headers.get("x-ratelimit-resource", "core"), cause=cause)
            if cause is None:  # a rate-limit answer concerns every worker on this token
                self._back_off(bounded)
            else:
                self._wait(bounded)
            self._meter.retries += 1


class GraphQLServerError(CollectError):
    """GitHub's GraphQL API failed on the server side (5xx, timeout, "something went wrong").

    A batching caller shrinks its query and tries again; `status` is 0 for a lost connection.
    """

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


class PageError(Exception):
    """A page of a list endpoint answered with an error status; carries the response."""

    def __init__(self, response: Response) -> None:
        super().__init__(f"HTTP {response.status}: {response.message}")
        self.response = response


def make_client(
    auth: Auth.Auth | None,
    base_url: str = DEFAULT_BASE_URL,
    *,
    max_wait: float = 900.0,
    sleeper: Sleeper = time.sleep,
    clock: Clock = time.time,
    cache: EtagCache | None = None,
    identity: str = "anonymous",
    limiter: SharedLimiter | None = None,
) -> GitHubClient:
    """A client with the default retry policy and `max_wait` as the bound on every wait.

    Give the clients of one token the same `limiter` so they share its concurrency and pauses.
    """
    return GitHubClient(
        auth,
        base_url,
        policy=rp.RetryPolicy(max_wait=max_wait),
        sleeper=sleeper,
        clock=clock,
        cache=cache,
        identity=identity,
        limiter=limiter,
    )


__all__ = [
    "EtagCache",
    "GitHubClient",
    "GraphQLServerError",
    "MemoryEtagCache",
    "PageError",
    "RateLimitWaitTooLongError",
    "Response",
    "make_client",
    "seg",
]
