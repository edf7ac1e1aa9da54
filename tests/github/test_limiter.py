"""The limiter shared by the clients of one token: bounded concurrency, and pauses for everyone."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest
from github import Auth

from auditor.github import retry as rp
from auditor.github.client import GitHubClient
from auditor.github.limiter import SharedLimiter
from tests.github.fake_github import FakeGitHub, Reply, serve


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with serve(FakeGitHub()) as server:
        yield server


class Clock:
    """A fake clock shared by several clients; sleeping advances it."""

    def __init__(self) -> None:
        self.now = 1_700_000_000.0
        self.waits: list[float] = []
        self.lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.waits.append(seconds)
            self.now += seconds


def client(fake: FakeGitHub, clock: Clock, limiter: SharedLimiter) -> GitHubClient:
    return GitHubClient(Auth.Token("t"), fake.base_url, policy=rp.RetryPolicy(max_wait=600), sleeper=clock.sleep,
                        clock=clock, limiter=limiter)


def test_a_retry_after_seen_by_one_worker_pauses_the_others(fake: FakeGitHub) -> None:
    fake.add("/a", Reply(403, {"message": "You have exceeded a secondary rate limit."}, {"Retry-After": "30"}),
             Reply(200, {"a": 1}))
    fake.add("/b", Reply(200, {"b": 1}))
    clock, limiter = Clock(), SharedLimiter()
    second = client(fake, clock, limiter)
    second_waits: list[float] = []

    def first_sleeps(seconds: float) -> None:
        # While the first worker sleeps off its Retry-After, the second one wants to send.
        second._sleep = second_waits.append  # type: ignore[method-assign]  # record, do not advance
        assert second.get("/b").status == 200
        clock.sleep(seconds)

    first = GitHubClient(Auth.Token("t"), fake.base_url, policy=rp.RetryPolicy(max_wait=600),
                         sleeper=first_sleeps, clock=clock, limiter=limiter)
    assert first.get("/a").status == 200
    assert second_waits == [30.0]  # the second worker honoured the pause the first was asked for
    assert limiter.pauses == 1


def test_an_exhausted_budget_on_one_client_holds_the_next_request_of_another(fake: FakeGitHub) -> None:
    clock, limiter = Clock(), SharedLimiter()
    reset = clock.now + 120
    fake.add("/a", Reply(200, {"a": 1}, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(reset))}))
    fake.add("/b", Reply(200, {"b": 1}))
    client(fake, clock, limiter).get("/a")
    client(fake, clock, limiter).get("/b")
    assert clock.waits == [pytest.approx(reset + 1 - 1_700_000_000.0)]


def test_requests_in_flight_never_exceed_the_bound() -> None:
    limiter = SharedLimiter(max_concurrent=2)
    inflight = peak = 0
    lock = threading.Lock()

    def request() -> None:
        nonlocal inflight, peak
        with limiter.slot():
            with lock:
                inflight += 1
                peak = max(peak, inflight)
            time.sleep(0.02)
            with lock:
                inflight -= 1

    threads = [threading.Thread(target=request) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 2


def test_the_budget_left_is_remembered_per_resource() -> None:
    limiter = SharedLimiter()
    limiter.note({"x-ratelimit-remaining": "4812", "x-ratelimit-resource": "core", "x-ratelimit-reset": "1"})
    limiter.note({"x-ratelimit-remaining": "4990", "x-ratelimit-resource": "graphql", "x-ratelimit-reset": "1"})
    assert limiter.remaining == {"core": 4812, "graphql": 4990}
    from auditor.github.auth import Credentials
    from auditor.session import GitHubSession

    session = GitHubSession(creds=Credentials(token="t"), base_url="http://127.0.0.1:9", limiter=limiter)
    assert session.budget_text() == "budget 4,812 core, 4,990 graphql"
