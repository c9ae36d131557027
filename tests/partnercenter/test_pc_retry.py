"""Exact tests of the retry rules: no sleeping, injected randomness and time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from reconciler.partnercenter.retry import (
    Failure,
    RetryPolicy,
    backoff,
    classify_status,
    parse_retry_after,
    retry_after_from_message,
    retry_delay,
    should_retry,
)

POLICY = RetryPolicy(max_attempts=4, base_delay=0.5, max_delay=4.0, retry_after_cap=10.0)
NOW = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)


def half() -> float:
    return 0.5


def almost_one() -> float:
    return 0.999


@pytest.mark.parametrize(
    ("status", "expected"),
    [
        (200, None),
        (202, None),
        (304, None),
        (400, Failure.CLIENT),
        (401, Failure.UNAUTHORIZED),
        (403, Failure.CLIENT),
        (404, Failure.CLIENT),
        (409, Failure.CLIENT),
        (429, Failure.THROTTLED),
        (500, Failure.SERVER),
        (503, Failure.SERVER),
        (599, Failure.SERVER),
    ],
)
def test_classify_status(status: int, expected: Failure | None) -> None:
    assert classify_status(status) is expected


@pytest.mark.parametrize(
    "failure", [Failure.NOT_SENT, Failure.LOST, Failure.THROTTLED, Failure.SERVER]
)
def test_retryable_failures_retry_until_the_budget_is_spent(failure: Failure) -> None:
    assert [should_retry(failure, n, POLICY) for n in (1, 2, 3, 4, 5)] == [
        True, True, True, False, False,
    ]


@pytest.mark.parametrize("failure", [Failure.CLIENT, Failure.UNAUTHORIZED])
def test_client_errors_and_401_are_never_retried_by_policy(failure: Failure) -> None:
    assert not should_retry(failure, 1, POLICY)


def test_single_attempt_policy_never_retries() -> None:
    assert not should_retry(Failure.SERVER, 1, RetryPolicy(max_attempts=1))


def test_backoff_is_exponential_with_full_jitter_and_capped() -> None:
    assert [backoff(i, POLICY, half) for i in range(6)] == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]
    assert [backoff(i, POLICY, lambda: 0.0) for i in range(3)] == [0.0, 0.0, 0.0]
    assert backoff(3, POLICY, almost_one) == pytest.approx(3.996)


def test_backoff_survives_huge_indices() -> None:
    assert backoff(10_000, POLICY, half) == 2.0


def test_retry_delay_without_retry_after_is_the_jitter() -> None:
    assert retry_delay(Failure.SERVER, 0, None, POLICY, half) == 0.25
    assert retry_delay(Failure.LOST, 2, None, POLICY, half) == 1.0
    assert retry_delay(Failure.NOT_SENT, 0, None, POLICY, lambda: 0.0) == 0.0


def test_throttled_without_retry_after_never_retries_at_once() -> None:
    assert retry_delay(Failure.THROTTLED, 0, None, POLICY, lambda: 0.0) == 0.5
    assert retry_delay(Failure.THROTTLED, 1, None, POLICY, half) == 1.0


def test_retry_after_is_honoured_then_jittered_and_capped() -> None:
    assert retry_delay(Failure.THROTTLED, 0, 1.0, POLICY, lambda: 0.0) == 1.0
    assert retry_delay(Failure.THROTTLED, 0, 1.0, POLICY, half) == 1.25
    assert retry_delay(Failure.SERVER, 1, 3.0, POLICY, half) == 3.5
    assert retry_delay(Failure.THROTTLED, 0, 3600.0, POLICY, lambda: 0.0) == 10.0
    assert retry_delay(Failure.THROTTLED, 0, -5.0, POLICY, lambda: 0.0) == 0.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("1", 1.0),
        (" 57 ", 57.0),
        ("0", 0.0),
        ("2.5", 2.5),
        ("-3", 0.0),
        ("Thu, 26 Nov 2026 12:00:30 GMT", 30.0),
        ("Thu, 26 Nov 2026 11:59:00 GMT", 0.0),
        ("soon", None),
        ("", None),
        (None, None),
        ("nan", None),
        ("inf", None),
    ],
)
def test_parse_retry_after(header: str | None, expected: float | None) -> None:
    assert parse_retry_after(header, NOW) == expected


def test_parse_retry_after_defaults_to_now() -> None:
    assert parse_retry_after("Thu, 01 Jan 2099 00:00:00 GMT") is not None
    assert parse_retry_after("Mon, 01 Jan 2001 00:00:00 GMT") == 0.0


@pytest.mark.parametrize(
    "kwargs", [{"max_attempts": 0}, {"base_delay": -1.0}, {"retry_after_cap": -1.0}]
)
def test_policy_rejects_nonsense(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError, match="must"):
        RetryPolicy(**kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("message", "expected"),
    [
        ("Rate limit is exceeded. Try again in 57 seconds.", 57.0),
        ("try again in 2 second", 2.0),
        ("Try again in 1.5s", 1.5),
        ("Try again in 3 sec.", 3.0),
        ("Try again later.", None),
        ("", None),
    ],
)
def test_retry_after_from_message(message: str, expected: float | None) -> None:
    assert retry_after_from_message(message) == expected
