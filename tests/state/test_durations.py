"""parse_duration and format_duration."""

from __future__ import annotations

import pytest

from reconciler.durations import format_duration, parse_duration
from reconciler.errors import UsageError


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("90s", 90),
        ("15m", 900),
        ("24h", 86400),
        ("2d", 172800),
        ("0s", 0),
        ("0", 0),
        ("1h30m", 5400),
        ("1.5s", 1.5),
        (" 10S ", 10),
    ],
)
def test_durations_parse(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "10", "-5s", "5 m", "1w", "s", "1h-30m", "ten minutes"])
def test_bad_durations_are_usage_errors_naming_the_option(text: str) -> None:
    with pytest.raises(UsageError, match=r'Invalid --lock-timeout ".*": .*for example 90s'):
        parse_duration(text, "--lock-timeout")


@pytest.mark.parametrize(
    ("seconds", "text"), [(0, "0s"), (90, "1m30s"), (5400, "1h30m"), (172800, "2d"), (1.5, "1.5s")]
)
def test_durations_format(seconds: float, text: str) -> None:
    assert format_duration(seconds) == text
    assert parse_duration(text) == seconds


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(0, "0s"), (12.4, "12s"), (59.6, "1m 00s"), (185, "3m 05s"), (3720, "1h 02m"),
     (110416, "1d 06h"), (-3, "0s")],
)
def test_time_left_reads_at_a_glance(seconds: float, text: str) -> None:
    from reconciler.durations import format_remaining

    assert format_remaining(seconds) == text
