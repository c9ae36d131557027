"""An HTTPS OAuth2 token endpoint for the secure application model, good enough for real msal.

msal (with ``instance_discovery=False``) first GETs
``/{tenant}/v2.0/.well-known/openid-configuration`` and then POSTs the refresh-token grant to the
``token_endpoint`` it finds there. Refresh tokens rotate: each use returns a new one and retires
the old, which then answers ``invalid_grant`` / AADSTS700082, as an expired one does.
"""

from __future__ import annotations

import contextlib
import json
import logging
import secrets
import shutil
import ssl
import tempfile
import threading
import time
import uuid
from base64 import urlsafe_b64encode
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from reconciler.simulator.auth import AccessTokens
from reconciler.simulator.certs import generate_self_signed

logger = logging.getLogger(__name__)

ACCESS_TOKEN_LIFETIME = 3600
_RESERVED_SCOPES = {"openid", "profile", "offline_access"}


@dataclass(slots=True)
class _Grant:
    state: str  # "valid", "used" or "expired"
    mfa: bool


def _b64(data: dict[str, Any]) -> str:
    return urlsafe_b64encode(json.dumps(data).encode()).decode().rstrip("=")


class TokenServer:
    """The token endpoint. Access tokens it issues are accepted by the simulator's API."""

    def __init__(self, access_tokens: AccessTokens, *, tenant_id: str | None = None) -> None:
        self.access_tokens = access_tokens
        self.tenant_id = tenant_id or str(uuid.uuid4())
        self.user_object_id = str(uuid.uuid4())
        self.exchanges = 0
        self._grants: dict[str, _Grant] = {}
        self._lock = threading.Lock()
        self._dir = Path(tempfile.mkdtemp(prefix="pc-sim-tls-"))
        self._files = generate_self_signed(self._dir)
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def ca_file(self) -> Path:
        """The PEM to trust (``verify=ca_file`` or ``REQUESTS_CA_BUNDLE``)."""
        return self._files.cert_file

    @property
    def authority_host(self) -> str:
        """``https://127.0.0.1:PORT``."""
        if self._server is None:
            raise RuntimeError("The token server is not running.")
        return f"https://127.0.0.1:{self._server.server_address[1]}"

    @property
    def authority(self) -> str:
        """The msal authority for the partner tenant."""
        return f"{self.authority_host}/{self.tenant_id}"

    def start(self) -> TokenServer:
        """Bind a free loopback port and serve HTTPS in a background thread."""
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(self._files.cert_file, self._files.key_file)
        server = _QuietServer(("127.0.0.1", 0), _TokenHandler)
        # The handshake then happens in the connection's thread, not in the accept loop.
        server.socket = context.wrap_socket(
            server.socket, server_side=True, do_handshake_on_connect=False
        )
        server.token_server = self  # type: ignore[attr-defined]
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, args=(0.02,), name="sim-token", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and delete the certificate files."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None
        if self._thread is not None:
            self._thread.join(timeout=5)
        shutil.rmtree(self._dir, ignore_errors=True)

    def issue_refresh_token(self, expired: bool = False, *, mfa: bool = True) -> str:
        """A refresh token as an admin's consent would leave it (``expired``: 90 days unused)."""
        token = "rt-" + secrets.token_urlsafe(32)
        with self._lock:
            self._grants[token] = _Grant("expired" if expired else "valid", mfa)
        return token

    def expire(self, refresh_token: str) -> None:
        """Make a refresh token expire now."""
        with self._lock:
            self._grants[refresh_token].state = "expired"

    def openid_configuration(self, tenant: str) -> dict[str, Any]:
        """The discovery document msal reads before the token call."""
        base = f"{self.authority_host}/{tenant}"
        return {
            "issuer": f"{base}/v2.0",
            "authorization_endpoint": f"{base}/oauth2/v2.0/authorize",
            "token_endpoint": f"{base}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{base}/oauth2/v2.0/devicecode",
            "jwks_uri": f"{base}/discovery/v2.0/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "tenant_region_scope": "EU",
        }

    def exchange(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        """Answer one token request: (HTTP status, JSON body)."""
        if form.get("grant_type") != "refresh_token":
            return 400, _aad_error(
                "unsupported_grant_type", 70003, "The grant type is not supported."
            )
        if not form.get("client_id") or not (
            form.get("client_secret") or form.get("client_assertion")
        ):
            return 401, _aad_error("invalid_client", 7000216, "Client credentials are required.")
        presented = form.get("refresh_token", "")
        with self._lock:
            grant = self._grants.get(presented)
            if grant is None:
                return 400, _aad_error(
                    "invalid_grant", 9002313, "Invalid request: malformed token."
                )
            if grant.state != "valid":
                return 400, _aad_error(
                    "invalid_grant",
                    700082,
                    "The refresh token has expired due to inactivity. The token was issued on "
                    "a date more than 90 days ago or has been used already.",
                )
            grant.state = "used"  # rotation: the presented token is spent
            rotated = "rt-" + secrets.token_urlsafe(32)
            self._grants[rotated] = _Grant("valid", grant.mfa)
            self.exchanges += 1
        access = "at-" + secrets.token_urlsafe(32)
        self.access_tokens.accept(access, mfa=grant.mfa)
        return 200, self._token_response(form, access, rotated)

    def _token_response(self, form: dict[str, str], access: str, refresh: str) -> dict[str, Any]:
        scopes = [s for s in form.get("scope", "").split() if s not in _RESERVED_SCOPES]
        now = int(time.time())
        claims = {
            "aud": form.get("client_id", ""),
            "iss": f"{self.authority_host}/{self.tenant_id}/v2.0",
            "iat": now,
            "nbf": now,
            "exp": now + ACCESS_TOKEN_LIFETIME,
            "sub": self.user_object_id,
            "oid": self.user_object_id,
            "tid": self.tenant_id,
            "preferred_username": "admin@partner.onmicrosoft.com",
            "name": "Partner Admin",
        }
        return {
            "token_type": "Bearer",
            "scope": " ".join(scopes),
            "expires_in": ACCESS_TOKEN_LIFETIME,
            "ext_expires_in": ACCESS_TOKEN_LIFETIME,
            "access_token": access,
            "refresh_token": refresh,
            # Unsigned: msal no longer validates id tokens; it only reads the claims.
            "id_token": f"{_b64({'alg': 'none', 'typ': 'JWT'})}.{_b64(claims)}.",
            "client_info": _b64({"uid": self.user_object_id, "utid": self.tenant_id}),
        }


def _aad_error(error: str, code: int, text: str) -> dict[str, Any]:
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    stamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    return {
        "error": error,
        "error_description": f"AADSTS{code}: {text} Trace ID: {trace} "
        f"Correlation ID: {correlation} Timestamp: {stamp}",
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace,
        "correlation_id": correlation,
    }


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log (not print) a failed connection, e.g. a client that does not trust the cert."""
        logger.debug("token server: connection from %s failed", client_address, exc_info=True)


class _TokenHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Route the standard library's access log to logging instead of stderr."""
        logger.debug("token server: " + format, *args)

    @property
    def _owner(self) -> TokenServer:
        owner: TokenServer = self.server.token_server  # type: ignore[attr-defined]
        return owner

    def do_GET(self) -> None:
        """Serve the OpenID discovery document."""
        parts = [p for p in urlsplit(self.path).path.split("/") if p]
        if len(parts) >= 2 and parts[-2:] == [".well-known", "openid-configuration"]:
            self._send(200, self._owner.openid_configuration(parts[0]))
        else:
            self._send(404, {"error": "not_found"})

    def do_POST(self) -> None:
        """Serve the token endpoint."""
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        path = urlsplit(self.path).path.lower().rstrip("/")
        if not path.endswith("/oauth2/v2.0/token"):
            self._send(404, {"error": "not_found"})
            return
        form = {k: v[0] for k, v in parse_qs(raw, keep_blank_values=True).items()}
        status, doc = self._owner.exchange(form)
        self._send(status, doc)

    def _send(self, status: int, doc: dict[str, Any]) -> None:
        body = json.dumps(doc).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        with contextlib.suppress(OSError):
            self.wfile.write(body)
