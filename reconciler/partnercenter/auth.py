"""Bearer tokens for Partner Center: a ready token, or the secure application model via msal.

Product upgrades accept App+User tokens only. The secure application model stores a refresh
token obtained once (with MFA) by a partner admin; each run exchanges it through msal for a
short-lived access token. Refresh tokens rotate on use, so when the token came from a file the
new one is written back atomically, or the next run would present a stale one.

Nothing here ever logs or formats a token, secret or refresh token; providers' ``repr`` hides them.
"""

from __future__ import annotations

import logging
import os
import re
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Protocol

import requests

from .endpoints import (
    DEFAULT_AUTHORITY,
    GLOBAL_SCOPE,
    is_microsoft_authority,
    validate_authority,
)
from .errors import AuthenticationError, ConsentRequiredError, CredentialsError

__all__ = [
    "ClientCertificate",
    "MsalRefreshTokenProvider",
    "StaticToken",
    "TokenProvider",
    "write_atomically",
]

log = logging.getLogger(__name__)

# Renew this long before the access token expires, so a request never carries a token that
# dies in flight.
EXPIRY_MARGIN_SECONDS = 300.0

# AAD answers meaning "a human must sign in / consent again" rather than "the app is misconfigured".
_CONSENT_ERRORS = frozenset({"invalid_grant", "interaction_required", "consent_required"})
_CONSENT_AADSTS = frozenset({700082, 50173, 70008, 70043, 50076, 50079, 65001, 50078})

_PEM_KEY = re.compile(
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.+?-----END [A-Z ]*PRIVATE KEY-----", re.DOTALL
)
_PEM_CERT = re.compile(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", re.DOTALL)

class TokenProvider(Protocol):
    """Where the client gets its bearer token. Implementations must be thread-safe."""

    def get_token(self) -> str:
        """A currently valid access token."""
        ...

    def refresh(self, rejected: str) -> str | None:
        """A token other than ``rejected`` (which got a 401), or ``None`` if none can be had."""
        ...


class StaticToken:
    """A ready bearer token (``PARTNER_CENTER_ACCESS_TOKEN``), used as is and never refreshed."""

    def __init__(self, token: str) -> None:
        if not token.strip():
            raise CredentialsError("The access token is empty.")
        self._token = token.strip()

    def __repr__(self) -> str:
        return "StaticToken(<redacted>)"

    def get_token(self) -> str:
        """Return the token."""
        return self._token

    def refresh(self, rejected: str) -> str | None:
        """A static token cannot be renewed."""
        return None


class ClientCertificate:
    """An app certificate: a PEM file holding the private key and the certificate."""

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"ClientCertificate({str(self.path)!r})"

    def credential(self) -> dict[str, str]:
        """The msal ``client_credential`` dict (msal derives the thumbprint from the cert)."""
        try:
            text = self.path.read_text(encoding="ascii")
        except (OSError, UnicodeDecodeError) as exc:
            raise CredentialsError(
                f"Cannot read the client certificate {str(self.path)!r}: {type(exc).__name__}."
            ) from None
        key = _PEM_KEY.search(text)
        cert = _PEM_CERT.search(text)
        if not key or not cert:
            raise CredentialsError(
                f"The client certificate {str(self.path)!r} must be a PEM file holding both the "
                "private key and the certificate."
            )
        return {"private_key": key.group(0), "public_certificate": cert.group(0)}


class MsalRefreshTokenProvider:
    """App+User tokens from a refresh token through msal's ``ConfidentialClientApplication``.

    Give the refresh token either as ``refresh_token`` or as ``refresh_token_file``; with a
    file, every rotated refresh token is written back to it atomically. Access tokens are cached
    until ``EXPIRY_MARGIN_SECONDS`` before they expire.
    """

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: str | None = None,
        client_certificate: ClientCertificate | None = None,
        refresh_token: str | None = None,
        refresh_token_file: str | os.PathLike[str] | None = None,
        authority: str = DEFAULT_AUTHORITY,
        scope: str = GLOBAL_SCOPE,
        ca_bundle: str | None = None,
        timeout: float = 30.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if (client_secret is None) == (client_certificate is None):
            raise CredentialsError("Give exactly one of a client secret or a client certificate.")
        if (refresh_token is None) == (refresh_token_file is None):
            raise CredentialsError("Give exactly one of a refresh token or a refresh token file.")
        self._tenant_id = tenant_id
        self._client_id = client_id
        self._credential: str | dict[str, str] = (
            client_secret if client_secret is not None else client_certificate.credential()  # type: ignore[union-attr]
        )
        self._refresh_token = refresh_token
        self._file = Path(refresh_token_file) if refresh_token_file is not None else None
        self._authority_host = validate_authority(authority)
        self._scope = scope
        self._verify: str | bool = ca_bundle if ca_bundle else True
        self._timeout = timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._app: object | None = None
        self._token: str | None = None
        self._expires_at = 0.0

    def __repr__(self) -> str:
        return (
            f"MsalRefreshTokenProvider(tenant_id={self._tenant_id!r}, "
            f"client_id={self._client_id!r}, authority={self._authority_host!r})"
        )

    @property
    def authority(self) -> str:
        """The full authority URL (host plus tenant)."""
        return f"{self._authority_host}/{self._tenant_id}"

    def get_token(self) -> str:
        """A cached access token, or a new one when it is missing or about to expire."""
        with self._lock:
            if self._token is None or self._clock() >= self._expires_at - EXPIRY_MARGIN_SECONDS:
                self._acquire()
            assert self._token is not None
            return self._token

    def refresh(self, rejected: str) -> str | None:
        """Exchange the refresh token again unless another thread already replaced ``rejected``."""
        with self._lock:
            if self._token is None or self._token == rejected:
                self._acquire()
            return self._token

    def _acquire(self) -> None:
        refresh_token = self._current_refresh_token()
        started = self._clock()
        try:
            result = self._msal_app().acquire_token_by_refresh_token(
                refresh_token, scopes=[self._scope]
            )
        except (requests.RequestException, ValueError) as exc:
            # ValueError: msal could not read the answer (e.g. an HTML page from a proxy).
            raise AuthenticationError(
                f"Could not get a token from the sign-in service {self._authority_host}: "
                f"{type(exc).__name__}."
            ) from None
        if not isinstance(result, dict) or "access_token" not in result:
            raise _sign_in_error(result if isinstance(result, dict) else {}, self._tenant_id)
        self._token = str(result["access_token"])
        self._expires_at = started + float(result.get("expires_in", 3600))
        rotated = result.get("refresh_token")
        if isinstance(rotated, str) and rotated and rotated != refresh_token:
            self._store_refresh_token(rotated)
        log.debug("Obtained an access token for tenant %s through %s", self._tenant_id,
                  self._authority_host)

    def _msal_app(self) -> Any:
        if self._app is None:
            # Imported on first use: a run with a ready access token never needs msal, and
            # importing it costs about a tenth of a second at every start.
            import msal  # type: ignore[import-untyped,unused-ignore]

            try:
                self._app = msal.ConfidentialClientApplication(
                    self._client_id,
                    client_credential=self._credential,
                    authority=self.authority,
                    # Instance discovery asks Microsoft about the host: only valid for its hosts.
                    instance_discovery=is_microsoft_authority(self._authority_host),
                    http_client=_SignInSession(self._verify, self._timeout),
                )
            except (ValueError, requests.RequestException) as exc:
                raise AuthenticationError(
                    f"Could not initialise sign-in against {self.authority}: "
                    f"{type(exc).__name__}: {_first_line(str(exc))}"
                ) from None
        return self._app

    def _current_refresh_token(self) -> str:
        if self._refresh_token is None and self._file is not None:
            try:
                self._refresh_token = self._file.read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise CredentialsError(
                    f"Cannot read the refresh token file {str(self._file)!r}: "
                    f"{type(exc).__name__}."
                ) from None
        if not self._refresh_token:
            raise CredentialsError("The refresh token is empty.")
        return self._refresh_token

    def _store_refresh_token(self, token: str) -> None:
        self._refresh_token = token
        if self._file is not None:
            try:
                write_atomically(self._file, token + "\n")
            except OSError as exc:
                # The presented token is spent; losing the new one means consenting again, so
                # stop now rather than finish a run whose successor cannot sign in.
                raise CredentialsError(
                    f"Could not write the rotated refresh token back to {str(self._file)!r} "
                    f"({type(exc).__name__}); make the file and its directory writable. The "
                    "previous refresh token may no longer work: a partner admin may need to "
                    "consent again."
                ) from None
            log.debug("Wrote the rotated refresh token back to %s", self._file)


class _SignInSession(requests.Session):
    """The HTTP client msal uses: passes ``verify`` and ``timeout`` on every request.

    msal would set ``session.verify``, but requests lets ``REQUESTS_CA_BUNDLE`` override a
    session-level setting; a per-request ``verify`` is the only one that reliably wins.
    """

    def __init__(self, verify: str | bool, timeout: float) -> None:
        super().__init__()
        self._verify_with = verify
        self._timeout = timeout

    def request(  # type: ignore[override]
        self, method: str, url: str, *args: Any, **kwargs: Any
    ) -> requests.Response:
        kwargs.setdefault("verify", self._verify_with)
        kwargs.setdefault("timeout", self._timeout)
        return super().request(method, url, *args, **kwargs)


def write_atomically(path: Path, text: str) -> None:
    """Replace ``path`` with ``text`` so that readers see the old or the new file, never half.

    The file keeps its permission bits (0600 when it is new): it holds a secret.
    """
    try:
        mode = path.stat().st_mode & 0o777
    except FileNotFoundError:
        mode = 0o600
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)  # os.chmod, not fchmod: the latter does not exist on Windows
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable on POSIX; Windows cannot open directories, and there
    # os.replace is already as durable as it gets.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _sign_in_error(result: Mapping[str, object], tenant_id: str) -> AuthenticationError:
    error = str(result.get("error") or "unknown_error")
    description = _first_line(str(result.get("error_description") or ""))
    codes = result.get("error_codes")
    aadsts = {int(c) for c in codes if isinstance(c, int)} if isinstance(codes, list) else set()
    trace = result.get("correlation_id")
    suffix = f" (sign-in correlation id {trace})" if trace else ""
    if error in _CONSENT_ERRORS or aadsts & _CONSENT_AADSTS:
        return ConsentRequiredError(
            f"The Partner Center refresh token for tenant {tenant_id} was refused ({error}: "
            f"{description}). It has expired or been revoked: a partner admin must consent "
            f"again with MFA and store the new refresh token{suffix}."
        )
    return AuthenticationError(
        f"Sign-in for tenant {tenant_id} failed ({error}: {description}); check the client id, "
        f"secret or certificate and the tenant{suffix}."
    )


def _first_line(text: str) -> str:
    # AAD descriptions end with trace ids and a timestamp; the sign-in correlation id is
    # reported separately, the rest adds nothing for the user.
    line = text.strip().splitlines()[0] if text.strip() else ""
    line = re.split(r"\s+Trace ID:", line, maxsplit=1)[0]
    return line[:300]
