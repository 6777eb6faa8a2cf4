#!/usr/bin/env python3
"""Post the plan as ONE comment on the pull request (GitHub) or merge request (GitLab).

    python3 ci/comment.py plan.md

The first run adds the comment; every later run edits that same comment, found again by the
hidden marker on its first line, so the request shows the latest plan once, not a pile of them.

GitHub Actions: GITHUB_TOKEN (the workflow's token; the job needs `pull-requests: write`); the
repository, the pull request and the API's address come from the variables Actions sets.
GitLab CI: IASYNC_GITLAB_TOKEN (a project access token with the `api` scope, as a masked CI/CD
variable: the job's own token cannot write notes); the rest from GitLab's predefined variables.

Only the standard library, so it runs wherever Python does. Tokens are sent, never printed.
"""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

MARKER = "<!-- iasync-plan -->"
LIMIT = 60_000  # GitHub refuses a comment over 65,536 characters
PAGE_SIZE = 100
TIMEOUT = 30  # seconds a request


class CommentError(Exception):
    """A reason the plan could not be posted, said in one line."""


@dataclass(frozen=True)
class Thread:
    """The comments of one pull or merge request, as one CI's API reaches them."""

    comments_url: str  # GET lists them, a page at a time; POST adds one
    comment_url: str  # with {id}: where one comment is edited
    edit_method: str  # PATCH on GitHub, PUT on GitLab
    headers: Mapping[str, str]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python3 ci/comment.py PLAN.md", file=sys.stderr)
        return 2
    plan = Path(argv[1])
    if not plan.is_file():
        # ci/plan.sh failed before it could write anything; it has said why above.
        print(f"No {plan} to post: see the plan step's output.", file=sys.stderr)
        return 1
    try:
        thread = find_thread(os.environ)
        if thread is None:
            print("Not a pull or merge request pipeline: nothing posted.")
            return 0
        print(post(thread, comment_body(plan.read_text(encoding="utf-8"))))
    except CommentError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 1
    return 0


def comment_body(plan: str) -> str:
    body = f"{MARKER}\n{plan}"
    if len(body) > LIMIT:
        body = body[:LIMIT] + "\n\n... (cut short here: the whole plan is in the job log)\n"
    return body


def find_thread(env: Mapping[str, str]) -> Thread | None:
    """The request this pipeline runs for, or None when it runs for no request."""
    if env.get("GITHUB_ACTIONS") == "true":
        return _github(env)
    if env.get("GITLAB_CI") == "true":
        return _gitlab(env)
    return None


def _github(env: Mapping[str, str]) -> Thread | None:
    event = json.loads(Path(_required(env, "GITHUB_EVENT_PATH")).read_text(encoding="utf-8"))
    number = (event.get("pull_request") or {}).get("number")
    if number is None:
        return None
    api = env.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
    repository = _required(env, "GITHUB_REPOSITORY")
    token = _required(env, "GITHUB_TOKEN", "pass it to the step: GITHUB_TOKEN: ${{ github.token }}")
    return Thread(
        comments_url=f"{api}/repos/{repository}/issues/{number}/comments",
        comment_url=f"{api}/repos/{repository}/issues/comments/{{id}}",
        edit_method="PATCH",
        headers={
            "Authorization": f"Bearer {token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        },
    )


def _gitlab(env: Mapping[str, str]) -> Thread | None:
    iid = env.get("CI_MERGE_REQUEST_IID")
    if not iid:
        return None
    api = _required(env, "CI_API_V4_URL").rstrip("/")
    project = _required(env, "CI_PROJECT_ID")
    token = _required(
        env,
        "IASYNC_GITLAB_TOKEN",
        "add a project access token with the api scope as a masked CI/CD variable",
    )
    notes = f"{api}/projects/{project}/merge_requests/{iid}/notes"
    return Thread(
        comments_url=notes,
        comment_url=f"{notes}/{{id}}",
        edit_method="PUT",
        headers={"PRIVATE-TOKEN": token},
    )


def _required(env: Mapping[str, str], name: str, hint: str = "") -> str:
    value = env.get(name)
    if not value:
        raise CommentError(f"{name} is not set" + (f": {hint}" if hint else ""))
    return value


def post(thread: Thread, body: str) -> str:
    """Edit the comment that carries the marker, or add one; say which was done."""
    mine = (c for c in _comments(thread) if str(c.get("body", "")).startswith(MARKER))
    earlier = next(mine, None)
    if earlier is None:
        _request(thread, "POST", thread.comments_url, {"body": body})
        return "Posted the plan on the request."
    url = thread.comment_url.format(id=earlier["id"])
    _request(thread, thread.edit_method, url, {"body": body})
    return f"Updated the plan comment ({earlier['id']})."


def _comments(thread: Thread) -> Iterator[dict[str, Any]]:
    page = 1
    while True:
        url = f"{thread.comments_url}?per_page={PAGE_SIZE}&page={page}"
        batch = _request(thread, "GET", url)
        if not isinstance(batch, list):
            raise CommentError(f"GET {url}: expected a list of comments")
        yield from (c for c in batch if isinstance(c, dict))
        if len(batch) < PAGE_SIZE:
            return
        page += 1


def _request(thread: Thread, method: str, url: str, payload: object = None) -> Any:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url, data=data, method=method)
    for name, value in {**thread.headers, "User-Agent": "iasync-ci"}.items():
        request.add_header(name, value)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:
            return json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        detail = error.read().decode(errors="replace")[:500]
        raise CommentError(f"{method} {url}: HTTP {error.code}: {detail}") from None
    except (urllib.error.URLError, OSError) as error:
        raise CommentError(f"{method} {url}: {error}") from None


if __name__ == "__main__":
    sys.exit(main(sys.argv))
