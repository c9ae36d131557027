"""Logging to stderr that can never print a secret.

Library code logs freely through ``logging.getLogger(__name__)``; this filter replaces the value
of every credential found in the environment, and anything that looks like a bearer token, with
``***`` before a record is written, whatever the verbosity.
"""

from __future__ import annotations

import logging
import os
import re
import sys
from collections.abc import Iterable, Mapping

SECRET_ENV = (
    "PARTNER_CENTER_ACCESS_TOKEN",
    "PARTNER_CENTER_CLIENT_SECRET",
    "PARTNER_CENTER_REFRESH_TOKEN",
    "AZURE_STORAGE_CONNECTION_STRING",
    "AZURE_CLIENT_SECRET",
)
#: The logger whose records are sentences for people (see partnercenter.transport).
NOTICES = "reconciler.partnercenter.notice"
_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+")


class RedactingFilter(logging.Filter):
    """Masks known secret values and bearer tokens in every log record."""

    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        # Short values would mask innocent text; real credentials are long.
        self.secrets = sorted({s for s in secrets if len(s) >= 8}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return _BEARER.sub(r"\1***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        record.msg = self.redact(record.getMessage())
        record.args = None
        return True


def secret_values(env: Mapping[str, str]) -> list[str]:
    """Credential values present in the environment (the refresh-token file's content too)."""
    values = [env[name] for name in SECRET_ENV if env.get(name)]
    token_file = env.get("PARTNER_CENTER_REFRESH_TOKEN_FILE")
    if token_file:
        try:
            with open(token_file, encoding="utf-8") as handle:
                values.append(handle.read().strip())
        except OSError:
            pass
    return values


class NoticeHandler(logging.Handler):
    """Writes a notice as a line of its own on stderr, above a live progress line."""

    def emit(self, record: logging.LogRecord) -> None:
        from reconciler.cli.progress import note

        try:
            note(self.format(record))
        except Exception:  # a logging handler must never raise into the caller
            self.handleError(record)


def configure_logging(verbosity: int) -> None:
    """-v: info, -vv: debug for our code, -vvv: debug for libraries too. Always redacted."""
    level = logging.WARNING if verbosity <= 0 else logging.INFO if verbosity == 1 else logging.DEBUG
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactingFilter(secret_values(os.environ)))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if verbosity >= 3 else logging.WARNING)
    logging.getLogger("reconciler").setLevel(level)
    # Notices for people (a long wait on Partner Center) are whole sentences: shown at every
    # verbosity, without the timestamp and logger name of diagnostic lines.
    plain = NoticeHandler()
    plain.setFormatter(logging.Formatter("%(message)s"))
    plain.addFilter(RedactingFilter(secret_values(os.environ)))
    notices = logging.getLogger(NOTICES)
    notices.handlers[:] = [plain]
    notices.propagate = False
