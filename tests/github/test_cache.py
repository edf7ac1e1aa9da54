"""The disk ETag cache: storage, bounds, concurrency, and conditional runs that cost no rate limit."""

from __future__ import annotations

import hashlib
import multiprocessing
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from github import Auth

from auditor.github import retry as rp
from auditor.github.cache import DiskEtagCache, cache_file
from auditor.github.client import EtagCache, GitHubClient
from auditor.github.collect import collect_pull_request, collect_repo
from auditor.plan import FULL_PLAN
from tests.github.fake_github import FakeGitHub, Reply, serve
from tests.github.pr_world import NUMBER, pr_world
from tests.github.test_pull import GATE_PLAN, GATE_REQUESTS
from tests.github.world import NOW, R, full_world


@pytest.fixture
def fake() -> Iterator[FakeGitHub]:
    with serve(FakeGitHub()) as server:
        yield server


def with_etags(fake: FakeGitHub) -> None:
    """Give every 200 answer an ETag derived from its body, as GitHub does."""
    for route in fake.routes:
        for reply in route.replies:
            if reply.status == 200:
                digest = hashlib.sha1(repr((route.path, route.query, reply.body)).encode()).hexdigest()
                reply.headers["ETag"] = f'W/"{digest}"'


def client(fake: FakeGitHub, cache: EtagCache, identity: str = "id-1") -> GitHubClient:
    return GitHubClient(
        Auth.Token("t"),
        fake.base_url,
        policy=rp.RetryPolicy(max_retries=1),
        sleeper=lambda s: None,
        cache=cache,
        identity=identity,
    )


def test_round_trip_and_protocol(tmp_path: Path) -> None:
    cache = DiskEtagCache(tmp_path, "id-1")
    typed: EtagCache = cache
    assert typed.get("https://api.github.com/repos/a/b?per_page=100") is None
    typed.put("https://api.github.com/repos/a/b?per_page=100", '"e1"', '{"x": 1}')
    typed.put("https://api.github.com/repos/a/b?per_page=100", '"e2"', '{"x": 2}')  # replaced, not duplicated
    assert typed.get("https://api.github.com/repos/a/b?per_page=100") == ('"e2"', '{"x": 2}')
    assert typed.get("https://api.github.com/repos/a/b?per_page=50") is None  # the query is part of the key
    assert len(cache) == 1
    reopened = DiskEtagCache(tmp_path, "id-1")
    assert reopened.get("https://api.github.com/repos/a/b?per_page=100") == ('"e2"', '{"x": 2}')


def test_one_file_per_identity_named_by_a_hash(tmp_path: Path) -> None:
    one = DiskEtagCache(tmp_path, "ghp_secret-one")
    two = DiskEtagCache(tmp_path, "ghp_secret-two")
    one.put("k", "e", "body")
    assert two.get("k") is None
    assert one.path != two.path and one.path == cache_file(tmp_path, "ghp_secret-one")
    names = " ".join(p.name for p in tmp_path.iterdir())
    assert "secret" not in names
    mode = sqlite3.connect(one.path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_least_recently_used_entries_are_evicted_past_the_bound(tmp_path: Path) -> None:
    cache = DiskEtagCache(tmp_path, "id", max_bytes=10_000)
    for i in range(5):
        cache.put(f"k{i}", "e", "x" * 1_997)  # 2,000 bytes each with key and etag
    assert cache.size() == 10_000 and len(cache) == 5
    assert cache.get("k0") is not None  # k0 is now the most recently used
    cache.put("k5", "e", "x" * 1_997)
    assert cache.size() <= 9_000
    assert cache.get("k0") is not None and cache.get("k5") is not None
    assert cache.get("k1") is None  # the least recently used went first


def test_an_entry_larger_than_the_bound_is_not_stored(tmp_path: Path) -> None:
    cache = DiskEtagCache(tmp_path, "id", max_bytes=100)
    cache.put("k", "e", "x" * 200)
    assert cache.get("k") is None and len(cache) == 0


def test_many_threads_share_one_cache(tmp_path: Path) -> None:
    cache = DiskEtagCache(tmp_path, "id")
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for i in range(50):
                cache.put(f"t{n}-{i}", f'"{i}"', f"body {n} {i}")
                assert cache.get(f"t{n}-{i}") == (f'"{i}"', f"body {n} {i}")
        except BaseException as exc:  # noqa: BLE001 - collected and re-raised by the test
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == [] and len(cache) == 400
    cache.close()


def _write_from_process(folder: str, n: int) -> None:
    cache = DiskEtagCache(Path(folder), "id")
    for i in range(30):
        cache.put(f"p{n}-{i}", "e", f"{n}:{i}")


def test_several_processes_share_one_cache(tmp_path: Path) -> None:
    ctx = multiprocessing.get_context("spawn")
    procs = [ctx.Process(target=_write_from_process, args=(str(tmp_path), n)) for n in range(3)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(60)
    assert [p.exitcode for p in procs] == [0, 0, 0]
    cache = DiskEtagCache(tmp_path, "id")
    assert len(cache) == 90 and cache.get("p2-29") == ("e", "2:29")


def test_second_full_audit_answered_by_304s_costs_no_rate_limit(fake: FakeGitHub, tmp_path: Path) -> None:
    full_world(fake)
    with_etags(fake)
    first_client = client(fake, DiskEtagCache(tmp_path, "id-1"))
    first = collect_repo(first_client, "acme/web", FULL_PLAN, NOW)
    assert first_client.cost.not_modified == 0 and first_client.cost.rate_limit_used == first_client.cost.requests
    sent = len(fake.log)
    fake.log.clear()

    second_client = client(fake, DiskEtagCache(tmp_path, "id-1"))  # a new run: a new client, the same disk
    second = collect_repo(second_client, "acme/web", FULL_PLAN, NOW)
    assert second == first
    cost = second_client.cost
    # Every answer that was a 200 came back 304 and cost nothing; GitHub sends no ETag with the 204 of
    # vulnerability-alerts or the 404 "Branch not protected", so those two are asked again, at full price.
    unconditional = sorted(e.path for e in fake.log if "if-none-match" not in e.headers)
    assert unconditional == [f"{R}/branches/staging/protection", f"{R}/vulnerability-alerts"]
    assert cost.requests == sent and cost.not_modified == sent - 2
    assert cost.rate_limit_used == 2


def test_other_identity_does_not_reuse_the_answers(fake: FakeGitHub, tmp_path: Path) -> None:
    full_world(fake)
    with_etags(fake)
    collect_repo(client(fake, DiskEtagCache(tmp_path, "id-1")), "acme/web", FULL_PLAN, NOW)
    other = client(fake, DiskEtagCache(tmp_path, "id-2"), identity="id-2")
    collect_repo(other, "acme/web", FULL_PLAN, NOW)
    assert other.cost.not_modified == 0


def test_gate_rerun_is_free(fake: FakeGitHub, tmp_path: Path) -> None:
    pr_world(fake, admin=True)
    with_etags(fake)
    first = collect_pull_request(client(fake, DiskEtagCache(tmp_path, "id-1")), "acme/web", NUMBER, GATE_PLAN, NOW)
    again = client(fake, DiskEtagCache(tmp_path, "id-1"))
    assert collect_pull_request(again, "acme/web", NUMBER, GATE_PLAN, NOW) == first
    assert (again.cost.requests, again.cost.not_modified, again.cost.rate_limit_used) == (GATE_REQUESTS,) * 2 + (0,)


def test_pages_are_conditional_and_keep_their_next_link(fake: FakeGitHub, tmp_path: Path) -> None:
    """A 304 need not repeat the Link header; the cached page must still lead to the next one."""
    fake.add("/items", Reply(200, [3], {"ETag": '"p2"'}), query={"page": "2"})
    fake.add("/items", Reply(200, [1, 2], {"ETag": '"p1"', "Link": "PLACEHOLDER"}))
    fake.routes[1].replies[0].headers["Link"] = f'<{fake.base_url}/items?per_page=100&page=2>; rel="next"'
    cache = DiskEtagCache(tmp_path, "id-1")
    assert list(client(fake, cache).paginate("/items")) == [1, 2, 3]
    fake.log.clear()
    second = client(fake, cache)
    assert list(second.paginate("/items")) == [1, 2, 3]
    assert [(e.query.get("page"), e.headers.get("if-none-match")) for e in fake.log] == [(None, '"p1"'), ("2", '"p2"')]
    assert second.cost.not_modified == 2 and second.cost.rate_limit_used == 0


def test_changed_answer_replaces_the_cached_one(fake: FakeGitHub, tmp_path: Path) -> None:
    fake.add("/r", Reply(200, {"v": 1}, {"ETag": '"v1"'}))
    cache = DiskEtagCache(tmp_path, "id-1")
    client(fake, cache).get("/r")
    fake.routes.clear()
    fake.add("/r", Reply(200, {"v": 2}, {"ETag": '"v2"'}))
    c = client(fake, cache)
    assert c.get("/r").json() == {"v": 2} and c.cost.rate_limit_used == 1
    assert client(fake, cache).get("/r").from_cache
