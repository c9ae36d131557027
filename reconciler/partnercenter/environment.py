"""Credentials from the environment (cli.md, "Credentials"): never flags, never settings files."""

from __future__ import annotations

from collections.abc import Mapping

from .auth import ClientCertificate, MsalRefreshTokenProvider, StaticToken, TokenProvider
from .endpoints import DEFAULT_AUTHORITY, default_scope
from .errors import CredentialsError

__all__ = ["ENV_VARS", "token_provider_from_env"]

#: Every variable this module reads (``REQUESTS_CA_BUNDLE`` aside).
ENV_VARS = (
    "PARTNER_CENTER_ACCESS_TOKEN",
    "PARTNER_CENTER_TENANT_ID",
    "PARTNER_CENTER_CLIENT_ID",
    "PARTNER_CENTER_CLIENT_SECRET",
    "PARTNER_CENTER_CLIENT_CERTIFICATE",
    "PARTNER_CENTER_REFRESH_TOKEN",
    "PARTNER_CENTER_REFRESH_TOKEN_FILE",
    "PARTNER_CENTER_AUTHORITY",
)


def token_provider_from_env(
    env: Mapping[str, str],
    endpoint: str,
    *,
    ca_bundle: str | None = None,
) -> TokenProvider:
    """Build the token provider the environment describes (see cli.md, "Credentials").

    ``PARTNER_CENTER_ACCESS_TOKEN`` wins; otherwise the secure application model needs a tenant,
    a client id, a secret or certificate and a refresh token (or a file holding one). Raises
    :class:`CredentialsError` naming the missing variables. ``ca_bundle`` (else
    ``REQUESTS_CA_BUNDLE``) is the CA file used to verify the sign-in service.
    """

    def value(name: str) -> str | None:
        text = env.get(name, "").strip()
        return text or None

    if access_token := value("PARTNER_CENTER_ACCESS_TOKEN"):
        if not access_token.isprintable() or not access_token.isascii():
            # It could never be sent as a header: retrying would only call it an outage.
            raise CredentialsError(
                "PARTNER_CENTER_ACCESS_TOKEN holds a line break, a control character or a "
                "non-ASCII character, so it cannot be sent to Partner Center: this is a local "
                "configuration error. Set it to the token alone, on one line.")
        return StaticToken(access_token)
    missing = [n for n in ("PARTNER_CENTER_TENANT_ID", "PARTNER_CENTER_CLIENT_ID") if not value(n)]
    secret, cert = value("PARTNER_CENTER_CLIENT_SECRET"), value("PARTNER_CENTER_CLIENT_CERTIFICATE")
    if not secret and not cert:
        missing.append("PARTNER_CENTER_CLIENT_SECRET or PARTNER_CENTER_CLIENT_CERTIFICATE")
    token, token_file = value("PARTNER_CENTER_REFRESH_TOKEN"), value(
        "PARTNER_CENTER_REFRESH_TOKEN_FILE"
    )
    if not token and not token_file:
        missing.append("PARTNER_CENTER_REFRESH_TOKEN or PARTNER_CENTER_REFRESH_TOKEN_FILE")
    if missing:
        raise CredentialsError(
            "No Partner Center credentials: set PARTNER_CENTER_ACCESS_TOKEN, or the secure "
            "application model variables (missing: " + ", ".join(missing) + ")."
        )
    return MsalRefreshTokenProvider(
        tenant_id=value("PARTNER_CENTER_TENANT_ID") or "",
        client_id=value("PARTNER_CENTER_CLIENT_ID") or "",
        # A secret wins over a certificate when both are set, as in the Azure SDKs.
        client_secret=secret,
        client_certificate=ClientCertificate(cert) if cert and not secret else None,
        refresh_token=None if token_file else token,
        refresh_token_file=token_file,
        authority=value("PARTNER_CENTER_AUTHORITY") or DEFAULT_AUTHORITY,
        scope=default_scope(endpoint),
        ca_bundle=ca_bundle or value("REQUESTS_CA_BUNDLE"),
    )
