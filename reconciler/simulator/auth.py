"""Which bearer tokens the API accepts: the configured one and those the token server issued."""

from __future__ import annotations

import threading
from enum import Enum


class TokenCheck(Enum):
    """The result of looking at an Authorization header."""

    OK = "ok"
    MISSING = "missing"
    INVALID = "invalid"
    NO_MFA = "no_mfa"


class AccessTokens:
    """Accepted access tokens, each with whether the user signed in with MFA."""

    def __init__(self) -> None:
        self._tokens: dict[str, bool] = {}
        self._lock = threading.Lock()

    def accept(self, token: str, *, mfa: bool = True) -> None:
        """Accept ``token`` from now on."""
        with self._lock:
            self._tokens[token] = mfa

    def revoke(self, token: str) -> None:
        """Refuse ``token`` from now on (an access token that expired or was revoked early)."""
        with self._lock:
            self._tokens.pop(token, None)

    def check(self, authorization: str | None) -> TokenCheck:
        """Classify an ``Authorization`` header value."""
        if not authorization:
            return TokenCheck.MISSING
        scheme, _, token = authorization.strip().partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return TokenCheck.MISSING
        mfa = self._tokens.get(token.strip())  # dict reads are atomic; no lock on the hot path
        if mfa is None:
            return TokenCheck.INVALID
        return TokenCheck.OK if mfa else TokenCheck.NO_MFA
