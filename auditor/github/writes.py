"""The writes the pull-request gate makes: a sticky PR comment, a commit status, a check run.

Every write goes through `GitHubClient.write` (PyGithub's requester, the same cost meter, and the
write retry rule: at most one retry, only after a rate-limit answer with `retry-after`, because a
POST resent after a 5xx may comment twice). GitHub's length limits are applied here, before
sending, since GitHub answers an over-long field with a 422 and the verdict would be lost.
A refused write raises `WriteError` with the permission it needs.
"""

from __future__ import annotations

from typing import Any

from auditor.github.client import GitHubClient, Response, seg
from auditor.github.errors import WriteError

STATUS_STATES = frozenset({"error", "failure", "pending", "success"})
CHECK_CONCLUSIONS = frozenset(
    {"action_required", "cancelled", "failure", "neutral", "success", "skipped", "timed_out"}
)
MAX_STATUS_DESCRIPTION = 140
MAX_CHECK_TEXT = 65535
MAX_COMMENT = 65536
DEFAULT_MARKER = "<!-- auditor:gate -->"


def clip(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, ending with an ellipsis when it was cut."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _repo_path(repo: str) -> str:
    owner, _, name = repo.partition("/")
    return f"/repos/{seg(owner)}/{seg(name)}"


def _checked(resp: Response, what: str, permission: str) -> Any:
    if not resp.ok:
        raise WriteError(what, resp.status, resp.message, resp.accepted_permissions or permission)
    return resp.json()


def upsert_sticky_comment(client: GitHubClient, repo: str, number: int, marker: str, body: str) -> tuple[int, bool]:
    """Create or update the one comment of PR `number` that carries `marker`; (comment id, created).

    The marker (a hidden HTML comment such as `<!-- auditor:gate -->`) is added to `body` when
    missing, so the next run finds the comment again. The first comment containing it is the
    sticky one. An unchanged body is not written again.
    """
    text = body if marker in body else f"{body}\n\n{marker}"
    if len(text) > MAX_COMMENT:
        text = clip(text, MAX_COMMENT)
        if marker not in text:  # the marker was in the part cut off: keep it at the end
            text = clip(body, MAX_COMMENT - len(marker) - 2) + f"\n\n{marker}"
    base = _repo_path(repo)
    for item in client.paginate(f"{base}/issues/{number}/comments"):
        if marker in str(item.get("body") or ""):
            comment_id = int(item["id"])
            if item.get("body") != text:
                resp = client.write("PATCH", f"{base}/issues/comments/{comment_id}", {"body": text})
                _checked(resp, f"update comment {comment_id} on pull request #{number}", "Pull requests: write")
            return comment_id, False
    resp = client.write("POST", f"{base}/issues/{number}/comments", {"body": text})
    data = _checked(resp, f"comment on pull request #{number}", "Pull requests: write")
    return int(data["id"]), True


def post_commit_status(
    client: GitHubClient,
    repo: str,
    sha: str,
    state: str,
    description: str,
    context: str,
    target_url: str | None = None,
) -> int:
    """Set commit status `context` on `sha` (description clipped to 140 characters); its id."""
    if state not in STATUS_STATES:
        raise ValueError(f"commit status state must be one of {sorted(STATUS_STATES)}, not {state!r}")
    payload: dict[str, Any] = {
        "state": state,
        "description": clip(description, MAX_STATUS_DESCRIPTION),
        "context": context,
    }
    if target_url:
        payload["target_url"] = target_url
    resp = client.write("POST", f"{_repo_path(repo)}/statuses/{seg(sha)}", payload)
    data = _checked(resp, f"set commit status {context} on {sha[:12]}", "Commit statuses: write")
    return int(data.get("id") or 0)


def create_check_run(
    client: GitHubClient,
    repo: str,
    sha: str,
    name: str,
    conclusion: str,
    title: str,
    summary: str,
    text: str | None = None,
) -> int:
    """Report a completed check run `name` on `sha` (summary and text clipped to 65535); its id.

    Only a GitHub App may create check runs; a personal token gets a 403, which the gate can
    answer by posting a commit status instead.
    """
    if conclusion not in CHECK_CONCLUSIONS:
        raise ValueError(f"check run conclusion must be one of {sorted(CHECK_CONCLUSIONS)}, not {conclusion!r}")
    output: dict[str, Any] = {"title": title, "summary": clip(summary, MAX_CHECK_TEXT)}
    if text:
        output["text"] = clip(text, MAX_CHECK_TEXT)
    payload = {"name": name, "head_sha": sha, "status": "completed", "conclusion": conclusion, "output": output}
    resp = client.write("POST", f"{_repo_path(repo)}/check-runs", payload)
    data = _checked(resp, f"create check run {name} on {sha[:12]}", "Checks: write (GitHub Apps only)")
    return int(data.get("id") or 0)
