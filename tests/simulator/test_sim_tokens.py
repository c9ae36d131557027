"""The secure-application-model token endpoint, exercised with real msal over HTTPS."""

from __future__ import annotations

from typing import Any

import msal
import pytest
import requests

from reconciler.simulator import Simulator
from reconciler.simulator.tokens import TokenServer
from tests.simulator.helpers import ELIGIBILITY, new_id

SCOPES = ["https://api.partnercenter.microsoft.com/user_impersonation"]


@pytest.fixture
def tokens(sim: Simulator, monkeypatch: pytest.MonkeyPatch) -> TokenServer:
    server = sim.start_token_server()
    # requests lets REQUESTS_CA_BUNDLE override a session's verify=, so point it at our CA.
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(server.ca_file))
    return server


def _app(tokens: TokenServer) -> Any:
    return msal.ConfidentialClientApplication(
        "11111111-2222-3333-4444-555555555555",
        client_credential="secret",
        authority=tokens.authority,
        instance_discovery=False,
        verify=str(tokens.ca_file),
    )


def _eligibility(sim: Simulator, token: str, customer: str) -> requests.Response:
    return requests.post(
        sim.url + ELIGIBILITY,
        json={"customerId": customer, "productFamily": "Azure"},
        headers={"Authorization": f"Bearer {token}"},
        timeout=5,
    )


def test_msal_refresh_token_exchange(sim: Simulator, tokens: TokenServer, customer: str) -> None:
    result = _app(tokens).acquire_token_by_refresh_token(tokens.issue_refresh_token(), SCOPES)
    assert "access_token" in result, result
    assert result["token_type"] == "Bearer"
    assert result["expires_in"] > 0
    assert _eligibility(sim, result["access_token"], customer).status_code == 200
    assert tokens.exchanges == 1


def test_refresh_tokens_rotate(tokens: TokenServer) -> None:
    app = _app(tokens)
    first = tokens.issue_refresh_token()
    result = app.acquire_token_by_refresh_token(first, SCOPES)
    rotated = result["refresh_token"]
    assert rotated != first
    assert "access_token" in app.acquire_token_by_refresh_token(rotated, SCOPES)
    reused = app.acquire_token_by_refresh_token(first, SCOPES)
    assert reused["error"] == "invalid_grant"
    assert "AADSTS700082" in reused["error_description"]


def test_expired_refresh_token_is_invalid_grant(tokens: TokenServer) -> None:
    result = _app(tokens).acquire_token_by_refresh_token(tokens.issue_refresh_token(True), SCOPES)
    assert result["error"] == "invalid_grant"
    assert "AADSTS700082" in result["error_description"]
    assert result["error_codes"] == [700082]


def test_expire_now(tokens: TokenServer) -> None:
    refresh = tokens.issue_refresh_token()
    tokens.expire(refresh)
    assert _app(tokens).acquire_token_by_refresh_token(refresh, SCOPES)["error"] == "invalid_grant"


def test_unknown_refresh_token(tokens: TokenServer) -> None:
    result = _app(tokens).acquire_token_by_refresh_token("rt-made-up", SCOPES)
    assert result["error"] == "invalid_grant"
    assert "AADSTS700082" not in result["error_description"]


def test_token_without_mfa_is_refused_by_the_api(
    sim: Simulator, tokens: TokenServer, customer: str
) -> None:
    refresh = tokens.issue_refresh_token(mfa=False)
    access = _app(tokens).acquire_token_by_refresh_token(refresh, SCOPES)["access_token"]
    answer = _eligibility(sim, access, customer)
    assert answer.status_code == 401
    assert answer.json()["code"] == 900421


def test_discovery_and_raw_token_endpoint(tokens: TokenServer) -> None:
    config = requests.get(
        f"{tokens.authority}/v2.0/.well-known/openid-configuration",
        verify=str(tokens.ca_file),
        timeout=5,
    ).json()
    assert config["token_endpoint"] == f"{tokens.authority}/oauth2/v2.0/token"
    form = {
        "grant_type": "refresh_token",
        "client_id": "c",
        "client_secret": "s",
        "refresh_token": tokens.issue_refresh_token(),
        "scope": " ".join(SCOPES),
    }
    answer = requests.post(
        config["token_endpoint"], data=form, verify=str(tokens.ca_file), timeout=5
    )
    assert answer.status_code == 200
    assert set(answer.json()) >= {
        "access_token",
        "refresh_token",
        "expires_in",
        "token_type",
        "scope",
    }
    no_secret = requests.post(
        config["token_endpoint"],
        data={**form, "client_secret": ""},
        verify=str(tokens.ca_file),
        timeout=5,
    )
    assert no_secret.json()["error"] == "invalid_client"
    wrong_grant = requests.post(
        config["token_endpoint"],
        data={**form, "grant_type": "client_credentials"},
        verify=str(tokens.ca_file),
        timeout=5,
    )
    assert wrong_grant.json()["error"] == "unsupported_grant_type"


def test_untrusted_client_is_refused(tokens: TokenServer, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(f"{tokens.authority}/v2.0/.well-known/openid-configuration", timeout=5)


def test_token_server_is_stopped_with_the_simulator(sim: Simulator) -> None:
    server = sim.start_token_server(tenant_id=new_id())
    assert sim.start_token_server() is server
    ca_file = server.ca_file
    sim.stop()
    assert not ca_file.exists()
