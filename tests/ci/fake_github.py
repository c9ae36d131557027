"""A fake GitHub REST API on loopback: a pull request's issue comments, as the action uses them.

It answers ``GET …/issues/N/comments`` page by page (``per_page``, ``page``), ``POST …/issues/N/
comments`` and ``PATCH …/issues/comments/ID``, checks the bearer token, and records every
request so tests can say what the action did. ``refuse`` makes it answer 403 as GitHub does to
a read-only token.
"""

from __future__ import annotations

import json
import re
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

REPOSITORY = "contoso/partner-manifests"


@dataclass
class FakeGitHub:
    token: str
    comments: dict[int, list[dict[str, Any]]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    refuse: bool = False
    _next_id: int = 1000
    _server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> FakeGitHub:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                fake.handle(self, "GET")

            def do_POST(self) -> None:
                fake.handle(self, "POST")

            def do_PATCH(self) -> None:
                fake.handle(self, "PATCH")

            def log_message(self, format: str, *args: object) -> None:
                return

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def add(self, pr: int, body: str, login: str = "someone") -> dict[str, Any]:
        self._next_id += 1
        comment = {"id": self._next_id, "body": body, "user": {"login": login},
                   "html_url": f"https://github.com/{REPOSITORY}/pull/{pr}"
                               f"#issuecomment-{self._next_id}"}
        self.comments.setdefault(pr, []).append(comment)
        return comment

    def handle(self, request: BaseHTTPRequestHandler, method: str) -> None:
        parts = urlsplit(request.path)
        self.requests.append((method, parts.path))
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            return _answer(request, 401, {"message": "Bad credentials"})
        if self.refuse and method != "GET":
            return _answer(request, 403, {"message": "Resource not accessible by integration"})
        prefix = f"/repos/{REPOSITORY}/issues/"
        listed = re.fullmatch(re.escape(prefix) + r"(\d+)/comments", parts.path)
        edited = re.fullmatch(re.escape(prefix) + r"comments/(\d+)", parts.path)
        length = int(request.headers.get("Content-Length") or 0)
        body = json.loads(request.rfile.read(length) or b"{}")
        if listed and method == "GET":
            query = parse_qs(parts.query)
            size, page = int(query["per_page"][0]), int(query["page"][0])
            everything = self.comments.get(int(listed[1]), [])
            return _answer(request, 200, everything[(page - 1) * size:page * size])
        if listed and method == "POST":
            return _answer(request, 201, self.add(int(listed[1]), body["body"], "bot"))
        if edited and method == "PATCH":
            for comment in (c for cs in self.comments.values() for c in cs):
                if comment["id"] == int(edited[1]):
                    comment["body"] = body["body"]
                    return _answer(request, 200, comment)
        return _answer(request, 404, {"message": "Not Found"})


def _answer(request: BaseHTTPRequestHandler, status: int, document: object) -> None:
    data = json.dumps(document).encode()
    request.send_response(status)
    request.send_header("Content-Type", "application/json")
    request.send_header("Content-Length", str(len(data)))
    request.end_headers()
    request.wfile.write(data)
