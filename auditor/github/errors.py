"""Exceptions of the collection layer.

Each layer wraps what it catches (`raise ... from`) so the CLI can turn them into exit codes and
messages without knowing about requests, urllib3 or PyGithub. Only `AuthError` is fatal for a run
(exit 3); every other `CollectError` is caught per repository section and becomes a `Gap`.
"""

from __future__ import annotations


class CollectError(Exception):
    """Something prevented a fact from being collected; turned into a Gap for that section."""


class AuthError(CollectError):
    """The credentials were rejected (HTTP 401) or could not be built: the run cannot go on."""

    exit_code = 3


class TransportError(CollectError):
    """The API could not be reached (connection refused, timeout) even after retries."""


class RateLimitWaitTooLongError(CollectError):
    """Honouring GitHub's rate limit would mean waiting longer than the configured bound."""

    def __init__(self, wait: float, max_wait: float, resource: str = "core") -> None:
        super().__init__(
            f"the GitHub {resource} rate limit requires waiting {wait:.0f}s, more than the allowed {max_wait:.0f}s"
        )
        self.wait = wait
        self.max_wait = max_wait
        self.resource = resource


class UnexpectedResponseError(CollectError):
    """GitHub answered with a status or body the collector cannot interpret."""

    def __init__(self, status: int, message: str, permission: str | None = None) -> None:
        super().__init__(f"HTTP {status}: {message}" if message else f"HTTP {status}")
        self.status = status
        self.message = message
        self.permission = permission


RateLimitWaitTooLong = RateLimitWaitTooLongError  # the name the CLI and docs use
