"""The tolerant error-body parser and the error tree."""

from __future__ import annotations

import pytest

from reconciler.partnercenter import errors
from reconciler.partnercenter.errors import ApiFault, parse_fault


@pytest.mark.parametrize(
    ("body", "code", "description"),
    [
        (b'{"code": 900105, "description": "Suspended.", "data": [], "source": "PartnerFD"}',
         "900105", "Suspended."),
        (b'{"code": "900109", "description": "In progress."}', "900109", "In progress."),
        (b'{"code": 800003, "message": "Unexpected."}', "800003", "Unexpected."),
        (b'{"Code": 900118, "Description": "Invalid customer id."}', "900118",
         "Invalid customer id."),
        (b'{"statusCode": 429, "message": "Rate limit is exceeded. Try again in 57 seconds."}',
         None, "Rate limit is exceeded. Try again in 57 seconds."),
        (b'{"error": {"code": "Unauthorized", "message": "No."}}', "Unauthorized", "No."),
        (b'{"code": true, "description": "odd"}', None, "odd"),
        (b'{"code": "  ", "description": "blank code"}', None, "blank code"),
        (b"<html><body><h1>502 Bad Gateway</h1></body></html>", None, "502 Bad Gateway"),
        (b"upstream connect error\n or disconnect", None, "upstream connect error or disconnect"),
        (b"", None, "HTTP 503"),
        (None, None, "HTTP 503"),
        (b"[1, 2]", None, "[1, 2]"),
        (b'{"data": []}', None, "HTTP 503"),
        (b"\xff\xfe garbage", None, "\ufffd\ufffd garbage"),
    ],
)
def test_parse_fault_is_tolerant(body: bytes | None, code: str | None, description: str) -> None:
    fault = parse_fault(503, body, "HTTP 503")
    assert fault == ApiFault(503, code, description)


def test_parse_fault_accepts_text_and_cuts_long_bodies() -> None:
    fault = parse_fault(500, "x" * 1000)
    assert len(fault.description) == 300
    assert fault.description.endswith("…")


def test_summary() -> None:
    # The summary goes inside a sentence that ends with its own full stop.
    assert ApiFault(403, "900105", "Suspended.").summary() == "HTTP 403 900105: Suspended"
    assert ApiFault(403, "900105", "Suspended").summary() == "HTTP 403 900105: Suspended"
    assert ApiFault(502, None, "").summary() == "HTTP 502"


def test_messages_carry_the_correlation_id_once() -> None:
    err = errors.ServiceError("It broke.", correlation_id="abc-123", http_status=500)
    assert err.message == "It broke. (MS-CorrelationId: abc-123)"
    again = errors.ServiceError("It broke (MS-CorrelationId: abc-123).", correlation_id="abc-123")
    assert again.message.count("abc-123") == 1
    assert err.correlation_id == "abc-123"
    assert err.http_status == 500


def test_tree_is_grouped_by_what_the_user_must_do() -> None:
    assert issubclass(errors.ConsentRequiredError, errors.AuthenticationError)
    assert issubclass(errors.CredentialsError, errors.ConfigurationError)
    assert issubclass(errors.InvalidEndpointError, errors.ConfigurationError)
    assert issubclass(errors.UpgradeNotFoundError, errors.NotFoundError)
    assert issubclass(errors.UpgradeOwnershipError, errors.InvalidRequestError)
    assert issubclass(errors.TransportError, errors.ServiceError)
    for name in errors.__all__:
        cls = getattr(errors, name)
        if isinstance(cls, type) and issubclass(cls, Exception):
            assert issubclass(cls, errors.PartnerCenterError)
            assert cls.hint or cls is errors.PartnerCenterError, name


def test_throttled_error_keeps_retry_after() -> None:
    err = errors.ThrottledError("Slow down.", retry_after=57.0, correlation_id="c")
    assert err.retry_after == 57.0
    assert err.http_status == 429
    assert "MS-CorrelationId: c" in str(err)
