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

    def __init__(self, wait: float, max_wait: float, resource: str = "core", cause: str | None = None) -> None:
        what = cause or f"the GitHub {resource} rate limit"
        super().__init__(f"{what} requires waiting {wait:.0f}s, more than the allowed {max_wait:.0f}s")
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


class WriteError(CollectError):
    """GitHub refused a write of the gate (a comment, a commit status, a check run).

    Carries the status, GitHub's message and the permission the write needs, so the gate can say
    why its verdict could not be published without failing the verdict itself.
    """

    def __init__(self, what: str, status: int, message: str, permission: str | None = None) -> None:
        text = f"GitHub refused to {what} (HTTP {status}"
        text += f": {message})" if message else ")"
        if permission:
            text += f"; needs {permission}"
        super().__init__(text)
        self.status = status
        self.message = message
        self.permission = permission
