"""Credentials: static tokens, msal against the simulator's HTTPS token server, and secrecy."""

from __future__ import annotations

import datetime as dt
import logging
import os
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from reconciler.partnercenter import (
    AuthenticationError,
    ClientCertificate,
    ConsentRequiredError,
    CredentialsError,
    InvalidEndpointError,
    MsalRefreshTokenProvider,
    StaticToken,
    token_provider_from_env,
)
from reconciler.partnercenter.auth import write_atomically
from reconciler.simulator import Simulator

from .conftest import ClientFactory, new_id

ENDPOINT = "https://api.partnercenter.microsoft.com"
SECRET = "client-secret-CANARY-7f3a"


def msal_provider(sim: Simulator, tmp_path: Path, **kwargs: object) -> MsalRefreshTokenProvider:
    ts = sim.start_token_server()
    options: dict[str, object] = {
        "tenant_id": ts.tenant_id,
        "client_id": new_id(),
        "authority": ts.authority_host,
        "ca_bundle": str(ts.ca_file),
    }
    if "client_certificate" not in kwargs:
        options["client_secret"] = SECRET
    if "refresh_token" not in kwargs and "refresh_token_file" not in kwargs:
        token_file = tmp_path / "refresh-token"
        token_file.write_text(ts.issue_refresh_token() + "\n")
        token_file.chmod(0o600)
        options["refresh_token_file"] = token_file
    options.update(kwargs)
    return MsalRefreshTokenProvider(**options)  # type: ignore[arg-type]


def test_msal_exchanges_the_refresh_token_and_writes_the_rotated_one_back(
    sim: Simulator, make_client: ClientFactory, customer: str, tmp_path: Path
) -> None:
    ts = sim.start_token_server()
    original = ts.issue_refresh_token()
    token_file = tmp_path / "refresh-token"
    token_file.write_text(original + "\n")
    token_file.chmod(0o600)
    before = ts.exchanges
    provider = msal_provider(sim, tmp_path, refresh_token_file=token_file)
    client = make_client(sim, token_provider=provider)
    assert client.eligibility(customer).is_eligible
    assert client.eligibility(customer).is_eligible
    assert ts.exchanges - before == 1  # the access token is cached
    rotated = token_file.read_text().strip()
    assert rotated
    assert rotated != original
    assert stat.S_IMODE(token_file.stat().st_mode) == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["refresh-token"]
    bearer = sim.requests[-1].header("Authorization")
    assert bearer
    assert bearer != f"Bearer {sim.token}"
    # The rotated token is the live one: a new run starting from the file succeeds ...
    again = msal_provider(sim, tmp_path, refresh_token_file=token_file)
    assert again.get_token()
    # ... and the spent original is refused as AAD refuses it: consent again.
    stale = msal_provider(sim, tmp_path, refresh_token=original)
    with pytest.raises(ConsentRequiredError):
        stale.get_token()


def test_expired_refresh_token_tells_the_user_to_consent_again(
    sim: Simulator, make_client: ClientFactory, customer: str, tmp_path: Path
) -> None:
    expired = sim.start_token_server().issue_refresh_token(expired=True)
    provider = msal_provider(sim, tmp_path, refresh_token=expired)
    with pytest.raises(ConsentRequiredError, match="consent again") as caught:
        make_client(sim, token_provider=provider).eligibility(customer)
    message = str(caught.value)
    assert "AADSTS700082" in message
    assert "Trace ID" not in message
    assert expired not in message
    assert caught.value.hint
    assert sim.requests == []


def test_in_memory_refresh_token_rotates_across_refreshes(
    sim: Simulator, tmp_path: Path
) -> None:
    provider = msal_provider(sim, tmp_path, refresh_token=sim.start_token_server()
                             .issue_refresh_token())
    first = provider.get_token()
    second = provider.refresh(first)
    assert second
    assert second != first
    # Another thread that saw the same rejected token gets the new one without an exchange.
    exchanges = sim.start_token_server().exchanges
    assert provider.refresh(first) == second
    assert sim.start_token_server().exchanges == exchanges


def test_access_token_is_cached_until_shortly_before_expiry(
    sim: Simulator, tmp_path: Path
) -> None:
    now = [1_000_000.0]
    provider = msal_provider(sim, tmp_path, clock=lambda: now[0])
    ts = sim.start_token_server()
    before = ts.exchanges
    token = provider.get_token()
    now[0] += 3600 - 301
    assert provider.get_token() == token
    assert ts.exchanges - before == 1
    now[0] += 2
    assert provider.get_token() != token
    assert ts.exchanges - before == 2


def _certificate_pem(path: Path) -> Path:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "reconciler-test")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=1))
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ) + cert.public_bytes(serialization.Encoding.PEM)
    path.write_bytes(pem)
    return path


def test_certificate_credential(
    sim: Simulator, make_client: ClientFactory, customer: str, tmp_path: Path
) -> None:
    certificate = ClientCertificate(_certificate_pem(tmp_path / "app.pem"))
    provider = msal_provider(sim, tmp_path, client_certificate=certificate)
    assert make_client(sim, token_provider=provider).eligibility(customer).is_eligible


def test_certificate_without_key_is_refused(tmp_path: Path) -> None:
    pem = tmp_path / "cert-only.pem"
    pem.write_text("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n")
    with pytest.raises(CredentialsError, match="private key"):
        ClientCertificate(pem).credential()
    with pytest.raises(CredentialsError, match="Cannot read"):
        ClientCertificate(tmp_path / "missing.pem").credential()


def test_token_without_mfa_is_refused_after_one_refresh(
    sim: Simulator, make_client: ClientFactory, customer: str, tmp_path: Path
) -> None:
    ts = sim.start_token_server()
    provider = msal_provider(sim, tmp_path, refresh_token=ts.issue_refresh_token(mfa=False))
    with pytest.raises(AuthenticationError, match="900421") as caught:
        make_client(sim, token_provider=provider).eligibility(customer)
    assert "MFA" in str(caught.value)
    assert [r.status for r in sim.requests] == [401, 401]


def test_provider_from_env_runs_the_secure_application_model(
    sim: Simulator, make_client: ClientFactory, customer: str, tmp_path: Path
) -> None:
    ts = sim.start_token_server()
    token_file = tmp_path / "rt"
    token_file.write_text(ts.issue_refresh_token())
    env = {
        "PARTNER_CENTER_TENANT_ID": ts.tenant_id,
        "PARTNER_CENTER_CLIENT_ID": new_id(),
        "PARTNER_CENTER_CLIENT_SECRET": SECRET,
        "PARTNER_CENTER_REFRESH_TOKEN_FILE": str(token_file),
        "PARTNER_CENTER_AUTHORITY": ts.authority_host + "/",
        "REQUESTS_CA_BUNDLE": str(ts.ca_file),
    }
    provider = token_provider_from_env(env, sim.url)
    assert isinstance(provider, MsalRefreshTokenProvider)
    assert make_client(sim, token_provider=provider).eligibility(customer).is_eligible
    assert token_file.read_text().strip() != ""


def test_untrusted_token_server_is_an_auth_error(sim: Simulator, tmp_path: Path) -> None:
    provider = msal_provider(sim, tmp_path, ca_bundle=None)
    with pytest.raises(AuthenticationError, match="sign-in"):
        provider.get_token()


def test_access_token_env_wins() -> None:
    provider = token_provider_from_env(
        {"PARTNER_CENTER_ACCESS_TOKEN": " tok ", "PARTNER_CENTER_TENANT_ID": "x"}, ENDPOINT
    )
    assert isinstance(provider, StaticToken)
    assert provider.get_token() == "tok"
    assert provider.refresh("tok") is None
    assert "tok" not in repr(provider)


def test_missing_credentials_name_the_variables() -> None:
    with pytest.raises(CredentialsError) as caught:
        token_provider_from_env({"PARTNER_CENTER_CLIENT_ID": "abc"}, ENDPOINT)
    message = str(caught.value)
    for name in (
        "PARTNER_CENTER_ACCESS_TOKEN", "PARTNER_CENTER_TENANT_ID",
        "PARTNER_CENTER_CLIENT_SECRET or PARTNER_CENTER_CLIENT_CERTIFICATE",
        "PARTNER_CENTER_REFRESH_TOKEN or PARTNER_CENTER_REFRESH_TOKEN_FILE",
    ):
        assert name in message
    assert "missing: PARTNER_CENTER_CLIENT_ID" not in message


def test_env_with_certificate_and_inline_refresh_token(tmp_path: Path) -> None:
    pem = _certificate_pem(tmp_path / "app.pem")
    provider = token_provider_from_env(
        {
            "PARTNER_CENTER_TENANT_ID": "t", "PARTNER_CENTER_CLIENT_ID": "c",
            "PARTNER_CENTER_CLIENT_CERTIFICATE": str(pem),
            "PARTNER_CENTER_REFRESH_TOKEN": "rt-inline",
            "PARTNER_CENTER_AUTHORITY": "https://login.microsoftonline.us",
        },
        ENDPOINT,
    )
    assert isinstance(provider, MsalRefreshTokenProvider)
    assert provider.authority == "https://login.microsoftonline.us/t"
    assert "rt-inline" not in repr(provider)


def test_http_authority_is_refused() -> None:
    with pytest.raises(InvalidEndpointError, match="https"):
        MsalRefreshTokenProvider(tenant_id="t", client_id="c", client_secret="s",
                                 refresh_token="r", authority="http://127.0.0.1:1")


@pytest.mark.parametrize(
    "kwargs",
    [{"client_secret": "s", "client_certificate": ClientCertificate("x"), "refresh_token": "r"},
     {"refresh_token": "r"},
     {"client_secret": "s"},
     {"client_secret": "s", "refresh_token": "r", "refresh_token_file": "f"}],
)
def test_provider_needs_exactly_one_of_each(kwargs: dict[str, object]) -> None:
    with pytest.raises(CredentialsError, match="exactly one"):
        MsalRefreshTokenProvider(tenant_id="t", client_id="c", **kwargs)  # type: ignore[arg-type]


def test_empty_static_token_is_refused() -> None:
    with pytest.raises(CredentialsError):
        StaticToken("  ")


def test_write_atomically_keeps_mode_and_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "secret"
    write_atomically(target, "one")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    target.chmod(0o640)
    write_atomically(target, "two")
    assert target.read_text() == "two"
    assert stat.S_IMODE(target.stat().st_mode) == 0o640
    assert os.listdir(tmp_path) == ["secret"]


def test_no_secret_reaches_logs_or_messages_at_any_verbosity(
    sim: Simulator, make_client: ClientFactory, customer: str, tmp_path: Path,
    caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str],
) -> None:
    caplog.set_level(logging.NOTSET)
    logging.getLogger().setLevel(logging.NOTSET)
    canary = "static-CANARY-token-5b1e"
    sim.tokens.accept(canary)
    client = make_client(sim, token_provider=StaticToken(canary))
    upgrade = client.create(customer, "Azure", new_id())
    assert upgrade.upgrade_id
    client.status(upgrade.upgrade_id, customer)
    list(client.customers())
    with pytest.raises(AuthenticationError) as refused:
        make_client(sim, token_provider=StaticToken(canary + "-bad")).eligibility(customer)

    ts = sim.start_token_server()
    refresh_canary = ts.issue_refresh_token()
    token_file = tmp_path / "rt"
    token_file.write_text(refresh_canary)
    provider = msal_provider(sim, tmp_path, refresh_token_file=token_file)
    msal_client = make_client(sim, token_provider=provider)
    msal_client.eligibility(customer)
    access_token = provider.get_token()
    rotated = token_file.read_text().strip()
    expired = ts.issue_refresh_token(expired=True)
    with pytest.raises(ConsentRequiredError) as consent:
        msal_provider(sim, tmp_path, refresh_token=expired).get_token()

    captured = capsys.readouterr()
    everything = "\n".join([
        caplog.text, captured.out, captured.err, str(refused.value), str(consent.value),
        repr(provider), repr(StaticToken(canary)),
        "\n".join(str(r.args) + str(r.msg) for r in caplog.records),
    ])
    assert any(r.name.startswith("reconciler.partnercenter") for r in caplog.records)
    assert "MS-CorrelationId=" in caplog.text
    for secret in (canary, refresh_canary, rotated, access_token, SECRET, expired):
        assert secret not in everything, "a secret leaked into logs or messages"
    assert "Bearer " + canary not in everything


def test_unwritable_refresh_token_file_is_a_credentials_error(
    sim: Simulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Running as root defeats permission bits, so the failing write is simulated.
    def refuse(path: Path, text: str) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("reconciler.partnercenter.auth.write_atomically", refuse)
    provider = msal_provider(sim, tmp_path)
    with pytest.raises(CredentialsError, match="rotated refresh token") as caught:
        provider.get_token()
    assert "consent again" in str(caught.value)


@pytest.mark.parametrize(
    ("result", "consent"),
    [
        ({"error": "invalid_grant", "error_description": "AADSTS70008: expired."}, True),
        ({"error": "interaction_required", "error_codes": [50076]}, True),
        ({"error": "invalid_request", "error_codes": [65001]}, True),
        ({"error": "invalid_client", "error_description": "AADSTS7000215: Invalid secret."},
         False),
        ({}, False),
    ],
)
def test_sign_in_errors_are_classified(result: dict[str, object], consent: bool) -> None:
    from reconciler.partnercenter.auth import _sign_in_error

    error = _sign_in_error(result, "tenant-1")
    assert isinstance(error, ConsentRequiredError) is consent
    assert isinstance(error, AuthenticationError)
    assert "tenant-1" in str(error)
