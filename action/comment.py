"""Create or update the one pull-request comment that holds reconciler's plan.

Used by ``action.yml``; stdlib only, so it runs on any runner's ``python3``. The comment is found
again by its hidden marker, the first line of the body (``<!-- partnercenter-reconciler:plan
-->``, which ``reconciler plan --format markdown`` always prints, a failed plan included), and
edited in place, so a pull request carries one plan comment however often it is pushed to.

Environment: ``GITHUB_TOKEN`` (pull-requests: write), ``PR_NUMBER``, ``BODY_FILE``, and what
the runner sets: ``GITHUB_REPOSITORY``, ``GITHUB_API_URL`` and ``GITHUB_OUTPUT`` (``id`` and
``url`` of the comment are written there). The token is sent only in the Authorization header,
never printed, and never over plain http except to this machine.
"""

from __future__ import annotations

import ipaddress
import json
import os
import re
import sys
import urllib.error
import urllib.parse
import urllib.request
from typing import Any, NoReturn

MARKER = re.compile(r"<!-- partnercenter-reconciler:[a-z]+ -->")
#: GitHub refuses a longer comment body (reconciler keeps its comments under 60,000).
MAX_BODY = 65_536
PER_PAGE = 100
#: Enough for any pull request (100,000 comments); a bound so a misbehaving API cannot loop.
MAX_PAGES = 1_000
TIMEOUT_SECONDS = 30


class Failed(Exception):
    """A whole sentence saying what went wrong and what to do."""


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class GitHub:
    """The three REST calls this needs, with the token in a header and nowhere else."""

    def __init__(self, api_url: str, repository: str, token: str) -> None:
        parts = urllib.parse.urlsplit(api_url)
        if parts.scheme != "https" and not (parts.scheme == "http"
                                              and _loopback(parts.hostname or "")):
            raise Failed(f"GITHUB_API_URL must be an https:// URL, not {parts.scheme}://; "
                         "the token must not travel in clear text.")
        if not re.fullmatch(r"[\w.-]+/[\w.-]+", repository):
            raise Failed(f"GITHUB_REPOSITORY must be OWNER/NAME, not {repository[:60]!r}.")
        self.root = f"{api_url.rstrip('/')}/repos/{repository}"
        self._token = token

    def call(self, method: str, path: str, body: dict[str, str] | None = None) -> Any:
        """One request; an answer other than 2xx is a :class:`Failed` naming the call."""
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.root + path, data=data, method=method, headers={
            "Authorization": f"Bearer {self._token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
            "Content-Type": "application/json",
            "User-Agent": "partnercenter-reconciler-action",
        })
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as answer:
                return json.loads(answer.read() or b"null")
        except urllib.error.HTTPError as exc:
            raise Failed(_refusal(method, path, exc)) from None
        except (urllib.error.URLError, OSError) as exc:
            raise Failed(f"Could not reach GitHub for {method} {path}: {exc}.") from None

    def comments(self, pr: int) -> list[dict[str, Any]]:
        """Every comment on the pull request, oldest first, page by page."""
        found: list[dict[str, Any]] = []
        for page in range(1, MAX_PAGES + 1):
            batch = self.call("GET", f"/issues/{pr}/comments?per_page={PER_PAGE}&page={page}")
            found += batch
            if len(batch) < PER_PAGE:
                break
        return found


def _refusal(method: str, path: str, exc: urllib.error.HTTPError) -> str:
    try:
        detail = str(json.loads(exc.read()).get("message", ""))[:200]
    except (ValueError, AttributeError, OSError):
        detail = ""
    text = f"GitHub answered {exc.code} to {method} {path}" + (f": {detail}" if detail else "")
    if exc.code in (401, 403, 404):
        text += (". Give the workflow 'permissions: pull-requests: write' (pull requests from "
                 "forks get a read-only token)")
    return text + "."


def upsert(github: GitHub, pr: int, body: str) -> tuple[str, dict[str, Any]]:
    """Update the comment that starts with the body's marker, or create it.

    Returns what was done ("created", "updated", "unchanged") and the comment. An unchanged
    body is not sent again, which spares the pull request an "edited" notice.
    """
    marker = body.split("\n", 1)[0].strip()
    if not MARKER.fullmatch(marker):
        raise Failed("The comment body must start with reconciler's marker line "
                     "(<!-- partnercenter-reconciler:plan -->); was it made by "
                     "'reconciler plan --format markdown'?")
    if len(body) > MAX_BODY:
        raise Failed(f"The comment body has {len(body)} characters; GitHub takes at most "
                     f"{MAX_BODY}.")
    mine = [c for c in github.comments(pr) if str(c.get("body") or "").startswith(marker)]
    if not mine:
        return "created", github.call("POST", f"/issues/{pr}/comments", {"body": body})
    if str(mine[0].get("body") or "") == body:
        return "unchanged", mine[0]
    return "updated", github.call("PATCH", f"/issues/comments/{mine[0]['id']}", {"body": body})


def _need(name: str) -> str:
    value = os.environ.get(name, "")
    if not value:
        raise Failed(f"{name} is not set; the action sets it for this step.")
    return value


def main() -> int:
    """Run as the action's step: upsert the comment, print one line, record the outputs."""
    try:
        number = _need("PR_NUMBER")
        if not number.isdigit():
            raise Failed(f"PR_NUMBER must be a pull-request number, not {number[:20]!r}.")
        with open(_need("BODY_FILE"), encoding="utf-8") as file:
            body = file.read()
        github = GitHub(os.environ.get("GITHUB_API_URL") or "https://api.github.com",
                        _need("GITHUB_REPOSITORY"), _need("GITHUB_TOKEN"))
        done, comment = upsert(github, int(number), body)
    except (Failed, OSError) as exc:
        return _fail(str(exc))
    print(f"Plan comment {done}: {comment.get('html_url', comment.get('id'))}")
    outputs = os.environ.get("GITHUB_OUTPUT")
    if outputs:
        with open(outputs, "a", encoding="utf-8") as file:
            file.write(f"id={comment.get('id', '')}\nurl={comment.get('html_url', '')}\n")
    return 0


def _fail(message: str) -> NoReturn:
    # Escaped as @actions/core does, so the message stays one annotation.
    escaped = message.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    print(f"::error title=Plan comment not posted::{escaped}", file=sys.stderr)
    sys.exit(1)


if __name__ == "__main__":
    sys.exit(main())
