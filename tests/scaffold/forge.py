"""A stand-in for the comment APIs of GitHub and GitLab, served on loopback for ci/comment.py.

The real services cannot be reached from tests, so this small HTTP server answers the few
endpoints the script uses, as they are documented: GitHub's issue comments (list with per_page
and page, create with POST, edit with PATCH) and GitLab's merge request notes (the same with PUT).
It checks the token header and keeps every comment and request, for the tests to look at.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

GITHUB_TOKEN = "ghs_test_token_never_printed"
GITLAB_TOKEN = "glpat-test-token-never-printed"

_GITHUB_LIST = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/(?P<number>\d+)/comments$")
_GITHUB_ONE = re.compile(r"^/repos/(?P<repo>[^/]+/[^/]+)/issues/comments/(?P<id>\d+)$")
_GITLAB_LIST = re.compile(r"^/api/v4/projects/(?P<project>\d+)/merge_requests/(?P<iid>\d+)/notes$")
_GITLAB_ONE = re.compile(
    r"^/api/v4/projects/(?P<project>\d+)/merge_requests/(?P<iid>\d+)/notes/(?P<id>\d+)$"
)


@dataclass
class Forge:
    """What the server holds: comments by thread, and a log of (method, path) requests."""

    comments: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    next_id: int = 1000
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, thread: str, body: str, user: str = "someone") -> dict[str, Any]:
        with self.lock:
            self.next_id += 1
            comment = {"id": self.next_id, "body": body, "user": {"login": user}}
            self.comments.setdefault(thread, []).append(comment)
            return comment

    def bodies(self, thread: str) -> list[str]:
        return [c["body"] for c in self.comments.get(thread, [])]


class _Handler(BaseHTTPRequestHandler):
    forge: Forge

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_PATCH(self) -> None:
        self._serve("PATCH")

    def do_PUT(self) -> None:
        self._serve("PUT")

    def _serve(self, method: str) -> None:
        url = urlsplit(self.path)
        self.forge.requests.append((method, url.path))
        github = url.path.startswith("/repos/")
        if not self._authorised(github):
            self._send(401, {"message": "Bad credentials"})
            return
        edit = "PATCH" if github else "PUT"
        many = (_GITHUB_LIST if github else _GITLAB_LIST).match(url.path)
        one = (_GITHUB_ONE if github else _GITLAB_ONE).match(url.path)
        if many and method == "GET":
            self._send(200, self._page(_thread(many), parse_qs(url.query)))
        elif many and method == "POST":
            self._send(201, self.forge.add(_thread(many), self._body()))
        elif one and method == edit:
            self._edit(int(one["id"]))
        else:
            self._send(404, {"message": "Not Found"})

    def _authorised(self, github: bool) -> bool:
        if github:
            return self.headers.get("Authorization") == f"Bearer {GITHUB_TOKEN}"
        return self.headers.get("PRIVATE-TOKEN") == GITLAB_TOKEN

    def _page(self, thread: str, query: dict[str, list[str]]) -> list[dict[str, Any]]:
        size = int(query.get("per_page", ["30"])[0])
        page = int(query.get("page", ["1"])[0])
        return self.forge.comments.get(thread, [])[(page - 1) * size : page * size]

    def _edit(self, comment_id: int) -> None:
        for comments in self.forge.comments.values():
            for comment in comments:
                if comment["id"] == comment_id:
                    comment["body"] = self._body()
                    self._send(200, comment)
                    return
        self._send(404, {"message": "Not Found"})

    def _body(self) -> str:
        length = int(self.headers.get("Content-Length", "0"))
        return str(json.loads(self.rfile.read(length))["body"])

    def _send(self, status: int, payload: Any) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def _thread(match: re.Match[str]) -> str:
    """A thread's key: `owner/repo#12` on GitHub, `project!3` on GitLab."""
    groups = match.groupdict()
    if "repo" in groups:
        return f"{groups['repo']}#{groups['number']}"
    return f"{groups['project']}!{groups['iid']}"


class ForgeServer:
    """The server on a free loopback port, in a thread, for a `with` block."""

    def __init__(self) -> None:
        self.forge = Forge()
        handler = type("Handler", (_Handler,), {"forge": self.forge})
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}"

    def __enter__(self) -> ForgeServer:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
        self.thread.join()

    def github_env(self, event_path: str, repository: str = "acme/accounts") -> dict[str, str]:
        """The variables GitHub Actions sets for a pull_request run, the token passed in."""
        return {
            "CI": "true",
            "GITHUB_ACTIONS": "true",
            "GITHUB_API_URL": self.url,
            "GITHUB_REPOSITORY": repository,
            "GITHUB_EVENT_PATH": event_path,
            "GITHUB_TOKEN": GITHUB_TOKEN,
        }

    def gitlab_env(self, project: str = "7", iid: str = "3") -> dict[str, str]:
        """The variables GitLab CI sets for a merge request pipeline, the token added."""
        return {
            "CI": "true",
            "GITLAB_CI": "true",
            "CI_API_V4_URL": f"{self.url}/api/v4",
            "CI_PROJECT_ID": project,
            "CI_MERGE_REQUEST_IID": iid,
            "IASYNC_GITLAB_TOKEN": GITLAB_TOKEN,
        }
