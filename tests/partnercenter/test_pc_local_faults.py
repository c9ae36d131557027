"""Answers and settings that are not Partner Center's fault (issue 19, item 13): an
``isEligible`` flag sent as a string, and an access token that cannot be a header."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from reconciler.partnercenter import PartnerCenterClient, token_provider_from_env
from reconciler.partnercenter.errors import CredentialsError
from reconciler.partnercenter.models import get_bool

CUSTOMER = "00000000-0000-4000-8000-000000000001"


@pytest.fixture
def answering() -> Iterator[Callable[[object], str]]:
    """A loopback server answering every eligibility call with ``isEligible`` set to a value."""
    servers: list[ThreadingHTTPServer] = []

    def start(flag: object) -> str:
        body = json.dumps({"customerId": CUSTOMER, "productFamily": "Azure",
                           "isEligible": flag}).encode()

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                self.rfile.read(int(self.headers.get("Content-Length") or 0))
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args: Any) -> None:
                pass

        server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("flag", "eligible"), [(True, True), ("true", True), ("True", True),
                                                (False, False), ("false", False), (None, False),
                                                (1, False)])
def test_is_eligible_as_a_string_is_understood(answering: Callable[[object], str],
                                               make_client: Callable[..., PartnerCenterClient],
                                               flag: object, eligible: bool) -> None:
    client = make_client(endpoint=answering(flag))
    assert client.eligibility(CUSTOMER).is_eligible is eligible
    assert get_bool({"isEligible": flag}, "isEligible") is eligible


@pytest.mark.parametrize("token", ["abc\r\nX-Injected: 1", "abc\ndef", "abc\x00", "tök"])
def test_an_access_token_that_cannot_be_a_header_is_a_local_error(token: str) -> None:
    with pytest.raises(CredentialsError, match="local configuration error") as refused:
        token_provider_from_env({"PARTNER_CENTER_ACCESS_TOKEN": token}, "http://127.0.0.1:9")
    assert token not in str(refused.value)


def test_the_cli_says_so_without_retrying(run_cli: Callable[..., Any], tmp_path: Path) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "a.yaml").write_text(
        "apiVersion: reconciler/v1\nkind: ProductUpgrades\nmetadata:\n  name: a\nspec:\n"
        f"  productFamily: Azure\n  customers:\n    - id: {CUSTOMER}\n")
    result = run_cli("plan", "--endpoint", "http://127.0.0.1:9", cwd=tmp_path,
                     env={"PARTNER_CENTER_ACCESS_TOKEN": "zq\r\nxv81"})
    assert result.code == 1
    assert "PARTNER_CENTER_ACCESS_TOKEN holds a line break" in result.stderr
    assert "No answer from Partner Center" not in result.stderr
    assert "xv81" not in result.stdout + result.stderr
