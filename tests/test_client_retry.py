"""The client's retry policy against a local fake GitHub: what is retried, how long it waits, what it counts."""

from __future__ import annotations

import socket
from collections.abc import Iterator

import pytest
from github import Auth, GithubException

from auditor.github import retry as rp
from auditor.github.client import GitHubClient, MemoryEtagCache, PageError
from auditor.github.errors import AuthError, RateLimitWaitTooLongError, TransportError
from tests.github.fake_github import FakeGitHub, Reply, serve

NOW = 1_700_000_000.0
RNA = {"message": "Resource not accessible by integration"}


class Clock:
    """A fake clock the fake sleeper advances, so waits are recorded and never slept."""

    def __init__(self) -> None:
        self.now = NOW
        self.waits: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with serve(FakeGitHub()) as server:
        yield server


def client(fake: FakeGitHub, clock: Clock, max_wait: float = 900.0, **kw: object) -> GitHubClient:
    policy = rp.RetryPolicy(max_wait=max_wait, **kw)  # type: ignore[arg-type]
    return GitHubClient(Auth.Token("t"), fake.base_url, policy=policy, sleeper=clock.sleep, clock=clock)


def test_502_burst_is_retried_with_backoff_and_counted(fake: FakeGitHub) -> None:
    fake.add("/r", Reply(502), Reply(502), Reply(200, {"ok": 1}))
    clock = Clock()
    c = client(fake, clock)
    resp = c.get("/r")
    assert resp.status == 200
    assert resp.json() == {"ok": 1}
    assert clock.waits == [1.0, 2.0]
    assert len(fake.log) == 3
    assert c.cost.requests == 3
    assert c.cost.retries == 2


def test_persistent_502_gives_up_and_returns_the_error(fake: FakeGitHub) -> None:
    fake.add("/r", Reply(502, {"message": "Server Error"}))
    clock = Clock()
    c = client(fake, clock, max_retries=2)
    resp = c.get("/r")
    assert resp.status == 502
    assert len(fake.log) == 3  # the first attempt and two retries
    assert c.cost.retries == 2


def test_retry_after_403_waits_exactly_that_long(fake: FakeGitHub) -> None:
    limited = Reply(403, {"message": "You have exceeded a secondary rate limit."}, {"Retry-After": "7"})
    fake.add("/r", limited, Reply(200, []))
    clock = Clock()
    c = client(fake, clock)
    assert c.get("/r").status == 200
    assert clock.waits == [7.0]
    assert c.cost.requests == 2


def test_429_without_headers_backs_off_like_a_secondary_limit(fake: FakeGitHub) -> None:
    fake.add("/r", Reply(429, {"message": "Too Many Requests"}), Reply(429), Reply(200, {}))
    clock = Clock()
    c = client(fake, clock)
    assert c.get("/r").status == 200
    assert clock.waits == [60.0, 120.0]


def test_429_with_retry_after(fake: FakeGitHub) -> None:
    fake.add("/r", Reply(429, None, {"Retry-After": "3"}), Reply(200, {}))
    clock = Clock()
    c = client(fake, clock)
    assert c.get("/r").status == 200
    assert clock.waits == [3.0]


def primary(reset: float) -> Reply:
    return Reply(
        403,
        {"message": "API rate limit exceeded for installation ID 1."},
        {"x-ratelimit-remaining": "0", "x-ratelimit-limit": "5000", "x-ratelimit-reset": str(int(reset))},
    )


def test_primary_exhaustion_waits_until_reset(fake: FakeGitHub) -> None:
    fake.add("/r", primary(NOW + 30), Reply(200, {}))
    clock = Clock()
    c = client(fake, clock)
    assert c.get("/r").status == 200
    assert clock.waits == [31.0]


def test_primary_exhaustion_with_reset_in_the_past_retries_at_once(fake: FakeGitHub) -> None:
    fake.add("/r", primary(NOW - 100), Reply(200, {}))
    clock = Clock()
    c = client(fake, clock)
    assert c.get("/r").status == 200
    assert clock.waits == [1.0]  # only the clock-slack second


def test_wait_beyond_max_wait_raises_without_sleeping(fake: FakeGitHub) -> None:
    fake.add("/r", primary(NOW + 3600))
    clock = Clock()
    c = client(fake, clock, max_wait=60)
    with pytest.raises(RateLimitWaitTooLongError) as info:
        c.get("/r")
    assert info.value.wait == pytest.approx(3601)
    assert clock.waits == []
    assert len(fake.log) == 1


def test_secondary_limit_beyond_max_wait_raises(fake: FakeGitHub) -> None:
    fake.add("/r", Reply(403, {"message": "You have exceeded a secondary rate limit. Please wait."}))
    clock = Clock()
    with pytest.raises(RateLimitWaitTooLongError):
        client(fake, clock, max_wait=10).get("/r")


@pytest.mark.parametrize(
    ("status", "body", "headers"),
    [
        (403, RNA, {"X-Accepted-GitHub-Permissions": "administration=read"}),
        (403, {"message": "Upgrade to GitHub Pro or make this repository public to enable this feature."}, {}),
        (403, {"message": "Must have admin rights to Repository."}, {"x-ratelimit-remaining": "4000"}),
        (404, {"message": "Not Found"}, {}),
    ],
)
def test_permission_answers_are_never_retried(
    fake: FakeGitHub, status: int, body: dict[str, str], headers: dict[str, str]
) -> None:
    fake.add("/r", Reply(status, body, headers))
    clock = Clock()
    c = client(fake, clock)
    resp = c.get("/r")
    assert resp.status == status
    assert resp.message == body["message"]
    assert len(fake.log) == 1
    assert clock.waits == []
    assert c.cost.retries == 0


def test_accepted_permissions_header_is_made_readable(fake: FakeGitHub) -> None:
    fake.add("/r", Reply(403, RNA, {"X-Accepted-GitHub-Permissions": "pull_requests=read; contents=read"}))
    resp = client(fake, Clock()).get("/r")
    assert resp.accepted_permissions == "Pull requests: read or Contents: read"


def test_401_is_fatal(fake: FakeGitHub) -> None:
    fake.add("/r", Reply(401, {"message": "Bad credentials"}))
    with pytest.raises(AuthError, match="Bad credentials"):
        client(fake, Clock()).get("/r")


def test_unreachable_host_is_retried_then_raises_transport_error() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    clock = Clock()
    c = GitHubClient(
        None, f"http://127.0.0.1:{port}", policy=rp.RetryPolicy(max_retries=2), sleeper=clock.sleep, clock=clock
    )
    with pytest.raises(TransportError):
        c.get("/r")
    assert clock.waits == [1.0, 2.0]
    assert c.cost.retries == 2


def test_exhausted_limit_on_a_success_throttles_the_next_request(fake: FakeGitHub) -> None:
    headers = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW + 20))}
    fake.add("/a", Reply(200, {}, headers))
    fake.add("/b", Reply(200, {}))
    clock = Clock()
    c = client(fake, clock)
    c.get("/a")
    c.get("/b")
    assert clock.waits == [21.0]
    assert len(fake.log) == 2  # the second request was delayed, not wasted on a 403


def test_throttle_beyond_max_wait_raises_before_sending(fake: FakeGitHub) -> None:
    fake.add("/a", Reply(200, {}, {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW + 999))}))
    clock = Clock()
    c = client(fake, clock, max_wait=30)
    c.get("/a")
    with pytest.raises(RateLimitWaitTooLongError):
        c.get("/a")
    assert len(fake.log) == 1


def test_conditional_request_304_is_served_from_cache_and_counted_free(fake: FakeGitHub) -> None:
    fake.add("/r", Reply(200, {"v": 1}, {"ETag": '"abc"', "x-ratelimit-used": "5", "x-ratelimit-reset": "9"}))
    cache = MemoryEtagCache()
    first = GitHubClient(Auth.Token("t"), fake.base_url, cache=cache, identity="id1")
    assert first.get("/r").json() == {"v": 1}
    fake.routes.clear()
    fake.add("/r", Reply(304, None, {"ETag": '"abc"'}))
    second = GitHubClient(Auth.Token("t"), fake.base_url, cache=cache, identity="id1")
    resp = second.get("/r")
    assert resp.from_cache
    assert resp.json() == {"v": 1}
    assert fake.log[-1].headers["if-none-match"] == '"abc"'
    assert second.cost.requests == 1
    assert second.cost.not_modified == 1
    assert second.cost.rate_limit_used == 0


def test_cache_is_keyed_by_identity(fake: FakeGitHub) -> None:
    fake.add("/r", Reply(200, {"v": 1}, {"ETag": '"abc"'}))
    cache = MemoryEtagCache()
    GitHubClient(None, fake.base_url, cache=cache, identity="one").get("/r")
    GitHubClient(None, fake.base_url, cache=cache, identity="two").get("/r")
    assert "if-none-match" not in fake.log[-1].headers


def test_rate_limit_units_skip_answers_that_did_not_move_the_counter(fake: FakeGitHub) -> None:
    fake.add("/a", Reply(200, {}, {"x-ratelimit-used": "10", "x-ratelimit-reset": "99"}))
    fake.add("/rate_limit", Reply(200, {}, {"x-ratelimit-used": "10", "x-ratelimit-reset": "99"}))
    fake.add("/b", Reply(200, {}, {"x-ratelimit-used": "11", "x-ratelimit-reset": "99"}))
    c = client(fake, Clock())
    for path in ("/a", "/rate_limit", "/b"):
        c.get(path)
    assert c.cost.requests == 3
    assert c.cost.rate_limit_used == 2


def test_paginate_follows_link_next_and_stops_early(fake: FakeGitHub) -> None:
    page2 = '<{base}/items?per_page=100&page=2>; rel="next"'
    fake.add("/items", Reply(200, [3, 4]), query={"page": "2"})
    fake.add("/items", Reply(200, [1, 2], {"Link": "PLACEHOLDER"}))
    c = client(fake, Clock())
    fake.routes[1].replies[0].headers["Link"] = page2.format(base=fake.base_url)
    assert list(c.paginate("/items")) == [1, 2, 3, 4]
    assert fake.log[0].query == {"per_page": "100"}
    fake.log.clear()
    assert list(c.paginate("/items", stop=lambda i: i == 2)) == [1]
    assert len(fake.log) == 1


def test_paginate_raises_page_error_on_error_status(fake: FakeGitHub) -> None:
    fake.add("/items", Reply(403, RNA))
    with pytest.raises(PageError) as info:
        list(client(fake, Clock()).paginate("/items"))
    assert info.value.response.status == 403


def test_classify_table() -> None:
    table = [
        (200, {}, "", rp.Kind.FINAL),
        (404, {}, '{"message":"Not Found"}', rp.Kind.FINAL),
        (403, {}, '{"message":"Resource not accessible by integration"}', rp.Kind.FINAL),
        (403, {"x-ratelimit-remaining": "0"}, "{}", rp.Kind.PRIMARY_LIMIT),
        (403, {}, '{"message":"API Rate Limit Exceeded for 92.104.200.119"}', rp.Kind.PRIMARY_LIMIT),
        (403, {"retry-after": "5"}, "{}", rp.Kind.SECONDARY_LIMIT),
        (403, {}, '{"message":"You have exceeded a secondary rate limit."}', rp.Kind.SECONDARY_LIMIT),
        (429, {}, "", rp.Kind.SECONDARY_LIMIT),
        (503, {}, "", rp.Kind.SERVER_ERROR),
        (501, {}, "", rp.Kind.FINAL),
    ]
    for status, headers, body, kind in table:
        assert rp.classify(status, headers, body) is kind, (status, headers, body)


def test_token_never_in_repr() -> None:
    c = GitHubClient(Auth.Token("s3cr3t-value"), "http://127.0.0.1:9")
    assert "s3cr3t" not in repr(c)


def test_server_error_backoff_beyond_max_wait_names_the_server_error(fake: FakeGitHub) -> None:
    fake.add("/r", Reply(502), Reply(502), Reply(502))
    clock = Clock()
    with pytest.raises(RateLimitWaitTooLongError) as info:
        client(fake, clock, max_wait=1.5).get("/r")
    assert "retrying after HTTP 502" in str(info.value)
    assert "rate limit" not in str(info.value)
    assert clock.waits == [1.0]


def test_failed_app_installation_token_exchange_is_an_auth_error(fake: FakeGitHub) -> None:
    class RefusedInstallation(Auth.Token):
        """An App installation auth whose token exchange GitHub refused."""

        @property
        def token(self) -> str:
            raise GithubException(401, {"message": "A JSON web token could not be decoded"}, {})

    c = GitHubClient(RefusedInstallation("unused"), fake.base_url, sleeper=Clock().sleep, clock=Clock())
    with pytest.raises(AuthError, match="installation token"):
        c.get("/r")
    assert fake.log == []
