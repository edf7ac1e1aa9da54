"""The retry policy, as pure functions of one response: what kind of answer it is, and how long to wait.

Built from GitHub's documented behaviour (docs: rest/using-the-rest-api/rate-limits-for-the-rest-api,
"Handle rate limit errors appropriately") rather than PyGithub's `GithubRetry`, because that one
ignores 429, sleeps on the real clock and cannot be bounded per wait in tests:

- a 403 or 429 with `retry-after`: wait that many seconds;
- a 403 or 429 with `x-ratelimit-remaining: 0`: wait until `x-ratelimit-reset` (+1 s of clock slack);
- any other 429, or a 403 whose message speaks of a (secondary) rate limit: wait at least a minute,
  doubling on each further attempt;
- any other 403 is a permission answer and is never retried;
- 500, 502, 503 and 504 (and transport errors) are retried with exponential backoff.

Every wait is bounded by `max_wait`; a longer one raises `RateLimitWaitTooLongError` instead of sleeping.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Mapping
from dataclasses import dataclass

from auditor.github.errors import RateLimitWaitTooLongError

RETRYABLE_SERVER_STATUSES = frozenset({500, 502, 503, 504})


class Kind(enum.Enum):
    """What a response means for the retry loop."""

    FINAL = "final"  # success, 304, 404, permission 403, ...: hand it to the caller
    PRIMARY_LIMIT = "primary_limit"
    SECONDARY_LIMIT = "secondary_limit"
    SERVER_ERROR = "server_error"


@dataclass(frozen=True)
class RetryPolicy:
    """Bounds of the retry loop. `max_wait` bounds any single wait, in seconds."""

    max_wait: float = 900.0
    max_retries: int = 4  # server errors and transport errors
    max_rate_limit_retries: int = 3
    backoff_base: float = 1.0
    secondary_wait: float = 60.0
    write_interval: float = 1.0  # GitHub: at least a second between writes, against secondary limits


def message_of(body: str) -> str:
    """GitHub's `message` from an error body, or "" when the body is not a JSON object."""
    try:
        data = json.loads(body) if body else None
    except ValueError:
        return ""
    if isinstance(data, dict) and isinstance(data.get("message"), str):
        return str(data["message"])
    return ""


def _is_rate_limit_message(message: str) -> bool:
    text = message.lower()
    return "rate limit" in text or "abuse" in text or "retry your request again later" in text


def classify(status: int, headers: Mapping[str, str], body: str) -> Kind:
    """The kind of answer; `headers` must have lower-case keys."""
    if status in RETRYABLE_SERVER_STATUSES:
        return Kind.SERVER_ERROR
    if status not in (403, 429):
        return Kind.FINAL
    message = message_of(body)
    remaining = headers.get("x-ratelimit-remaining")
    if remaining == "0" or message.lower().startswith("api rate limit exceeded"):
        return Kind.PRIMARY_LIMIT
    if status == 429 or "retry-after" in headers or _is_rate_limit_message(message):
        return Kind.SECONDARY_LIMIT
    return Kind.FINAL


def _retry_after(headers: Mapping[str, str]) -> float | None:
    value = headers.get("retry-after")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # an HTTP date; GitHub sends seconds, so fall back to the other signals


def rate_limit_wait(kind: Kind, headers: Mapping[str, str], attempt: int, now: float, policy: RetryPolicy) -> float:
    """Seconds to wait before retrying a rate-limited request (attempt counts from 0)."""
    after = _retry_after(headers)
    if after is not None:
        return after
    reset = headers.get("x-ratelimit-reset")
    if headers.get("x-ratelimit-remaining") == "0" and reset is not None:
        try:
            return max(0.0, float(reset) - now) + 1.0
        except ValueError:
            pass
    del kind  # primary without a usable reset falls back to the secondary rule
    return policy.secondary_wait * (2.0**attempt)


def server_error_wait(headers: Mapping[str, str], attempt: int, policy: RetryPolicy) -> float:
    """Seconds to wait before retrying a 5xx or a transport error (attempt counts from 0)."""
    after = _retry_after(headers)
    if after is not None:
        return after
    return policy.backoff_base * (2.0**attempt)


def write_retry_wait(status: int, headers: Mapping[str, str], body: str) -> float | None:
    """Seconds to wait before the single retry of a write, or None: do not retry it.

    A write is retried only when GitHub refused it as rate-limited *and* said when to come back
    (`retry-after`): then it was not carried out. A 5xx or a dropped connection may have been
    carried out, so a POST resent blindly could comment or report twice.
    """
    if classify(status, headers, body) not in (Kind.PRIMARY_LIMIT, Kind.SECONDARY_LIMIT):
        return None
    return _retry_after(headers)


def bounded(wait: float, policy: RetryPolicy, resource: str = "core", cause: str | None = None) -> float:
    """`wait` if it is within `max_wait`, else raise instead of sleeping.

    `cause` names a wait that is not a rate limit (a backoff after a 5xx or a dropped connection),
    so the unknown results it leads to state the real reason.
    """
    if wait > policy.max_wait:
        raise RateLimitWaitTooLongError(wait, policy.max_wait, resource, cause)
    return wait
