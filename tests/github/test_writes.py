"""The gate's writes against a local fake GitHub: what is sent, what is retried, what it costs."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from github import Auth

from auditor.github import retry as rp
from auditor.github.client import GitHubClient
from auditor.github.errors import AuthError, RateLimitWaitTooLongError, TransportError, WriteError
from auditor.github.writes import (
    DEFAULT_MARKER,
    clip,
    create_check_run,
    post_commit_status,
    upsert_sticky_comment,
)
from tests.github.fake_github import FakeGitHub, Reply, serve
from tests.github.world import R

COMMENTS = f"{R}/issues/42/comments"


class Clock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0
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


def make_client(fake: FakeGitHub, clock: Clock | None = None, **policy: float) -> GitHubClient:
    clock = clock or Clock()
    return GitHubClient(
        Auth.Token("t"), fake.base_url, policy=rp.RetryPolicy(**policy), sleeper=clock.sleep, clock=clock  # type: ignore[arg-type]
    )


def comment(cid: int, body: str, login: str = "someone") -> dict[str, object]:
    return {"id": cid, "body": body, "user": {"login": login}}


def test_sticky_comment_is_created_when_absent(fake: FakeGitHub) -> None:
    fake.add(COMMENTS, [comment(1, "nice work")])
    fake.add(COMMENTS, Reply(201, comment(77, "x")), method="POST")
    c = make_client(fake)
    assert upsert_sticky_comment(c, "acme/web", 42, DEFAULT_MARKER, "Gate: 2 blocking findings") == (77, True)
    (post,) = fake.writes()
    assert (post.method, post.path) == ("POST", COMMENTS)
    assert post.body == {"body": f"Gate: 2 blocking findings\n\n{DEFAULT_MARKER}"}  # the marker is added
    assert c.cost.requests == 2 and c.cost.retries == 0


def test_sticky_comment_is_found_on_a_later_page_and_patched(fake: FakeGitHub) -> None:
    fake.add(COMMENTS, [comment(5, f"old verdict {DEFAULT_MARKER}")], query={"page": "2"})
    fake.add(COMMENTS, Reply(200, [comment(1, "hello")], {"Link": "PLACEHOLDER"}))
    fake.add(f"{R}/issues/comments/5", comment(5, "new"), method="PATCH")
    fake.routes[1].replies[0].headers["Link"] = f'<{fake.base_url}{COMMENTS}?per_page=100&page=2>; rel="next"'
    c = make_client(fake)
    body = f"{DEFAULT_MARKER}\nGate: passed"
    assert upsert_sticky_comment(c, "acme/web", 42, DEFAULT_MARKER, body) == (5, False)
    (patch,) = fake.writes()
    assert (patch.method, patch.path, patch.body) == ("PATCH", f"{R}/issues/comments/5", {"body": body})
    assert c.cost.requests == 3


def test_unchanged_sticky_comment_is_not_rewritten(fake: FakeGitHub) -> None:
    body = f"Gate: passed\n\n{DEFAULT_MARKER}"
    fake.add(COMMENTS, [comment(1, "first"), comment(9, body), comment(10, f"dup {DEFAULT_MARKER}")])
    c = make_client(fake)
    assert upsert_sticky_comment(c, "acme/web", 42, DEFAULT_MARKER, "Gate: passed") == (9, False)
    assert fake.writes() == [] and c.cost.requests == 1


def test_over_long_comment_keeps_its_marker(fake: FakeGitHub) -> None:
    fake.add(COMMENTS, [])
    fake.add(COMMENTS, Reply(201, comment(3, "x")), method="POST")
    upsert_sticky_comment(make_client(fake), "acme/web", 42, DEFAULT_MARKER, "x" * 70_000)
    sent = fake.writes()[0].body["body"]
    assert len(sent) <= 65536 and sent.endswith(DEFAULT_MARKER)


def test_commit_status_payload_and_clipped_description(fake: FakeGitHub) -> None:
    fake.add(f"{R}/statuses/h42", Reply(201, {"id": 314, "state": "failure"}), method="POST")
    c = make_client(fake)
    long = "Blocking: " + "pr-workflow-safety failed; " * 10
    status_id = post_commit_status(c, "acme/web", "h42", "failure", long, "auditor/gate", "https://ci.example/run/1")
    assert status_id == 314
    (post,) = fake.writes()
    assert post.body["state"] == "failure" and post.body["context"] == "auditor/gate"
    assert post.body["target_url"] == "https://ci.example/run/1"
    assert len(post.body["description"]) == 140 and post.body["description"].endswith("…")


def test_commit_status_rejects_an_unknown_state_before_sending(fake: FakeGitHub) -> None:
    with pytest.raises(ValueError, match="state"):
        post_commit_status(make_client(fake), "acme/web", "h42", "passed", "d", "ctx")
    assert fake.log == []


def test_check_run_payload(fake: FakeGitHub) -> None:
    fake.add(f"{R}/check-runs", Reply(201, {"id": 99}), method="POST")
    c = make_client(fake)
    run_id = create_check_run(c, "acme/web", "h42", "auditor", "failure", "2 blocking", "s" * 70_000, "details")
    assert run_id == 99
    body = fake.writes()[0].body
    assert (body["name"], body["head_sha"], body["status"], body["conclusion"]) == (
        "auditor",
        "h42",
        "completed",
        "failure",
    )
    assert body["output"]["title"] == "2 blocking" and body["output"]["text"] == "details"
    assert len(body["output"]["summary"]) == 65535


def test_check_run_refused_for_a_personal_token_names_the_permission(fake: FakeGitHub) -> None:
    fake.add(f"{R}/check-runs", Reply(403, {"message": "You must authenticate via a GitHub App."}), method="POST")
    with pytest.raises(WriteError) as info:
        create_check_run(make_client(fake), "acme/web", "h42", "auditor", "success", "ok", "ok")
    assert info.value.status == 403 and info.value.permission == "Checks: write (GitHub Apps only)"
    assert "GitHub App" in str(info.value)
    assert len(fake.log) == 1


def test_post_is_never_retried_on_a_server_error(fake: FakeGitHub) -> None:
    fake.add(COMMENTS, [])
    fake.add(COMMENTS, Reply(502, {"message": "Server Error"}), Reply(201, comment(1, "x")), method="POST")
    c = make_client(fake)
    with pytest.raises(WriteError) as info:
        upsert_sticky_comment(c, "acme/web", 42, DEFAULT_MARKER, "verdict")
    assert info.value.status == 502
    assert len(fake.writes()) == 1 and c.cost.retries == 0  # the comment may exist: never posted twice


def test_write_is_retried_once_after_a_rate_limit_with_retry_after(fake: FakeGitHub) -> None:
    limited = Reply(403, {"message": "You have exceeded a secondary rate limit."}, {"Retry-After": "5"})
    fake.add(f"{R}/statuses/h42", limited, Reply(201, {"id": 2}), method="POST")
    clock = Clock()
    c = make_client(fake, clock)
    assert post_commit_status(c, "acme/web", "h42", "success", "ok", "auditor/gate") == 2
    assert len(fake.writes()) == 2
    assert 5.0 in clock.waits
    assert (c.cost.requests, c.cost.retries) == (2, 1)


def test_write_is_retried_at_most_once(fake: FakeGitHub) -> None:
    limited = Reply(403, {"message": "You have exceeded a secondary rate limit."}, {"Retry-After": "1"})
    fake.add(f"{R}/statuses/h42", limited, method="POST")
    with pytest.raises(WriteError):
        post_commit_status(make_client(fake), "acme/web", "h42", "success", "ok", "auditor/gate")
    assert len(fake.writes()) == 2


def test_rate_limit_without_retry_after_is_not_retried(fake: FakeGitHub) -> None:
    fake.add(f"{R}/statuses/h42", Reply(429, {"message": "Too Many Requests"}), method="POST")
    with pytest.raises(WriteError) as info:
        post_commit_status(make_client(fake), "acme/web", "h42", "success", "ok", "auditor/gate")
    assert info.value.status == 429 and len(fake.writes()) == 1


def test_retry_after_beyond_max_wait_raises_without_sleeping(fake: FakeGitHub) -> None:
    limited = Reply(403, {"message": "You have exceeded a secondary rate limit."}, {"Retry-After": "600"})
    fake.add(f"{R}/statuses/h42", limited, method="POST")
    clock = Clock()
    with pytest.raises(RateLimitWaitTooLongError):
        post_commit_status(make_client(fake, clock, max_wait=60), "acme/web", "h42", "success", "ok", "ctx")
    assert clock.waits == [] and len(fake.writes()) == 1


def test_writes_are_spaced_by_the_write_interval(fake: FakeGitHub) -> None:
    fake.add(f"{R}/statuses/h42", Reply(201, {"id": 1}), method="POST")
    clock = Clock()
    c = make_client(fake, clock)
    post_commit_status(c, "acme/web", "h42", "pending", "running", "a")
    post_commit_status(c, "acme/web", "h42", "success", "done", "b")
    assert clock.waits == [pytest.approx(1.0)]


def test_rejected_credentials_on_a_write_are_fatal(fake: FakeGitHub) -> None:
    fake.add(f"{R}/statuses/h42", Reply(401, {"message": "Bad credentials"}), method="POST")
    with pytest.raises(AuthError):
        post_commit_status(make_client(fake), "acme/web", "h42", "success", "ok", "ctx")


def test_unreachable_host_on_a_write_is_not_retried() -> None:
    clock = Clock()
    c = GitHubClient(None, "http://127.0.0.1:9", policy=rp.RetryPolicy(max_retries=3), sleeper=clock.sleep, clock=clock)
    with pytest.raises(TransportError):
        post_commit_status(c, "acme/web", "h42", "success", "ok", "ctx")
    assert clock.waits == [] and c.cost.retries == 0


def test_clip() -> None:
    assert clip("abc", 3) == "abc"
    assert clip("abcd", 3) == "ab…"
