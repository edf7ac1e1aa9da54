"""One limiter per token, shared by every worker's client.

GitHub's secondary limits are per token, not per connection: "no more than 100 concurrent requests"
and "make requests serially rather than concurrently" are its own words, and a `Retry-After` or an
exhausted primary budget concerns every request sent with that token. So the workers of one audit
share this object: a bound on requests in flight, and one "paused until" time that any worker sets
when GitHub asks it to slow down and that every worker honours before its next request.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

#: Requests in flight per token. GitHub refuses more than 100 and recommends serial requests; eight keeps an
#: org audit well clear of the secondary limits while hiding most of the network latency.
DEFAULT_CONCURRENCY = 8


class SharedLimiter:
    """Concurrency slots plus a shared pause, safe to use from many threads."""

    def __init__(self, max_concurrent: int = DEFAULT_CONCURRENCY) -> None:
        self.max_concurrent = max(1, max_concurrent)
        self._slots = threading.BoundedSemaphore(self.max_concurrent)
        self._lock = threading.Lock()
        self._paused_until: float | None = None
        self.pauses = 0
        self.remaining: dict[str, int] = {}  # rate-limit resource -> requests/points left, as last seen

    @contextmanager
    def slot(self) -> Iterator[None]:
        """Hold one of the in-flight slots while a request is on the wire."""
        with self._slots:
            yield

    def pause_until(self, when: float) -> None:
        """Every worker waits until `when` (epoch seconds) before its next request."""
        with self._lock:
            if self._paused_until is None or when > self._paused_until:
                self._paused_until = when
                self.pauses += 1

    def remaining_pause(self, now: float) -> float:
        """Seconds still to wait before sending (0 when not paused)."""
        with self._lock:
            if self._paused_until is None:
                return 0.0
            left = self._paused_until - now
            if left <= 0:
                self._paused_until = None
                return 0.0
            return left

    def note(self, headers: Mapping[str, str]) -> None:
        """Remember the budget left; pause everyone until the reset when it is exhausted."""
        left = headers.get("x-ratelimit-remaining")
        if left is not None and left.isdigit():
            with self._lock:
                self.remaining[headers.get("x-ratelimit-resource", "core")] = int(left)
        reset = headers.get("x-ratelimit-reset")
        if headers.get("x-ratelimit-remaining") == "0" and reset is not None:
            try:
                self.pause_until(float(reset) + 1.0)
            except ValueError:
                return
