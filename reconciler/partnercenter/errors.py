"""Errors raised by the Partner Center client, grouped by what the user must do.

This package stands alone (it may be published without the rest of the reconciler), so it has
its own tree; the CLI maps these classes onto its exit codes and hints.

::

    PartnerCenterError
    ├── ConfigurationError          fix the settings or environment
    │   ├── CredentialsError        no usable credentials: set the named variables
    │   └── InvalidEndpointError    endpoint or authority refused (e.g. http:// off loopback)
    ├── AuthenticationError         the token was refused (401) or could not be obtained
    │   └── ConsentRequiredError    refresh token expired/revoked: a partner admin must re-consent
    ├── PermissionDeniedError       403 not about eligibility: grant the app/user access
    ├── NotFoundError               404 (customer/tenant)
    │   └── UpgradeNotFoundError    404/900106: no such upgrade id (recorded state is wrong)
    ├── InvalidRequestError         other 4xx: a bug or a bad input (e.g. invalid customer id)
    │   └── UpgradeOwnershipError   400/900111: upgrade id belongs to another customer
    ├── NotEligibleError            create refused for an eligibility reason: the key is blocked
    ├── ThrottledError              429 after every retry: lower the rate or try later
    ├── DeadlineExceeded            the run's deadline passed before the call could end
    └── ServiceError                5xx after every retry: Partner Center fault, report it
        └── TransportError          no HTTP answer at all (connection refused, timeout)

Every error raised after a request carries the MS-CorrelationId of the last attempt, in its
message and as an attribute, because that id is what Microsoft support asks for.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

__all__ = [
    "ApiFault",
    "AuthenticationError",
    "ConfigurationError",
    "ConsentRequiredError",
    "CredentialsError",
    "DeadlineExceeded",
    "InvalidEndpointError",
    "InvalidRequestError",
    "NotEligibleError",
    "NotFoundError",
    "PartnerCenterError",
    "PermissionDeniedError",
    "ServiceError",
    "ThrottledError",
    "TransportError",
    "UpgradeNotFoundError",
    "UpgradeOwnershipError",
    "parse_fault",
]

# Long bodies (HTML error pages from a gateway) are cut so that messages stay readable.
_MAX_DESCRIPTION = 300


class PartnerCenterError(Exception):
    """Base of every error raised by :mod:`reconciler.partnercenter`."""

    #: What the user should do next, in a few words.
    hint: str = ""

    def __init__(
        self,
        message: str,
        *,
        http_status: int | None = None,
        code: str | None = None,
        correlation_id: str | None = None,
        request_id: str | None = None,
        hint: str | None = None,
    ) -> None:
        if correlation_id and correlation_id not in message:
            message = f"{message} (MS-CorrelationId: {correlation_id})"
        super().__init__(message)
        self.http_status = http_status
        self.code = code
        self.correlation_id = correlation_id
        self.request_id = request_id
        if hint is not None:
            self.hint = hint

    @property
    def message(self) -> str:
        """The whole-sentence message, including the MS-CorrelationId when there is one."""
        return str(self.args[0]) if self.args else ""


class ConfigurationError(PartnerCenterError):
    """The settings or environment are wrong."""

    hint = "fix the configuration"


class CredentialsError(ConfigurationError):
    """No usable credentials were configured."""

    hint = "set the Partner Center credential variables"


class InvalidEndpointError(ConfigurationError):
    """An endpoint or authority URL was refused."""

    hint = "use an https:// endpoint (http:// only for loopback)"


class AuthenticationError(PartnerCenterError):
    """A token was refused or could not be obtained."""

    hint = "check the credentials"


class ConsentRequiredError(AuthenticationError):
    """The refresh token expired or was revoked: a human must consent again."""

    hint = "a partner admin must consent again and store the new refresh token"


class PermissionDeniedError(PartnerCenterError):
    """403 for a reason other than eligibility."""

    hint = "grant the app and user access to this customer"


class NotFoundError(PartnerCenterError):
    """404: the customer, tenant or resource does not exist."""

    hint = "check the customer id"


class UpgradeNotFoundError(NotFoundError):
    """404/900106: Partner Center knows no upgrade with this id."""

    hint = "the recorded upgrade id is wrong: run drift"


class InvalidRequestError(PartnerCenterError):
    """A 4xx that retrying cannot fix."""

    hint = "check the input; if it looks right, report it"


class UpgradeOwnershipError(InvalidRequestError):
    """400/900111: the upgrade id belongs to a different customer."""

    hint = "the recorded upgrade id is wrong: run drift"


class NotEligibleError(PartnerCenterError):
    """A create was refused because the customer is not eligible."""

    hint = "the customer is blocked; see the reason"


class ThrottledError(PartnerCenterError):
    """Still throttled (429) after every retry."""

    hint = ("try again later; if it keeps happening, cap the rate with "
            "apply.max_requests_per_minute in reconciler.yaml (or lower --parallelism)")

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        correlation_id: str | None = None,
        request_id: str | None = None,
    ) -> None:
        super().__init__(
            message,
            http_status=429,
            correlation_id=correlation_id,
            request_id=request_id,
        )
        self.retry_after = retry_after


class DeadlineExceeded(PartnerCenterError):
    """The run's deadline (``--timeout``) passed before this call could end; nothing more is
    started. The message is the whole sentence "Stopped: the run reached its …"."""

    hint = "run again, with a longer --timeout if the work needs it"


class ServiceError(PartnerCenterError):
    """Partner Center failed (5xx) on every attempt."""

    hint = "Partner Center is failing; retry later or report the MS-CorrelationId to Microsoft"


class TransportError(ServiceError):
    """No HTTP answer at all: connection refused or reset, or a timeout."""

    hint = "check the network and the endpoint, then retry"


@dataclass(frozen=True, slots=True)
class ApiFault:
    """What an error body said, whatever its shape.

    ``code`` is normalised to a string (Partner Center sends numbers or strings), and is
    ``None`` when the body carried none (429 bodies, gateway pages).
    """

    http_status: int
    code: str | None
    description: str

    def summary(self) -> str:
        """``403 900105: description`` — the short form used inside messages."""
        code = f" {self.code}" if self.code else ""
        # Embedded in a sentence that ends with its own full stop: drop the description's.
        description = self.description.rstrip().removesuffix(".")
        text = f": {description}" if description else ""
        return f"HTTP {self.http_status}{code}{text}"


def parse_fault(http_status: int, body: bytes | str | None, reason: str = "") -> ApiFault:
    """Read an error body tolerantly.

    Understands the ApiFault shape (``code`` number or string, ``description`` or
    ``message``), the 429 shape (``statusCode``, ``message``), an ``{"error": {...}}`` wrapper,
    and non-JSON bodies (whose first line becomes the description).
    """
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else (body or "")
    try:
        data: object = json.loads(text) if text.strip() else None
    except ValueError:
        data = None
    if isinstance(data, dict):
        inner = data.get("error")
        if isinstance(inner, dict):
            data = inner
        return ApiFault(http_status, _code_of(data), _description_of(data) or reason)
    return ApiFault(http_status, None, _clean(text) or reason)


def _code_of(data: dict[str, object]) -> str | None:
    code = data.get("code", data.get("Code"))
    if isinstance(code, bool) or code is None:
        return None
    if isinstance(code, int | str) and str(code).strip():
        return str(code).strip()
    return None


def _description_of(data: dict[str, object]) -> str:
    for key in ("description", "Description", "message", "Message", "error_description"):
        value = data.get(key)
        if isinstance(value, str) and value.strip():
            return _clean(value)
    return ""


def _clean(text: str) -> str:
    # Collapse whitespace so that an HTML page or a multi-line body fits on one line.
    flat = re.sub(r"<[^>]+>", " ", text)
    flat = " ".join(flat.split())
    if len(flat) > _MAX_DESCRIPTION:
        flat = flat[: _MAX_DESCRIPTION - 1] + "…"
    return flat
