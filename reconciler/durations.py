"""Durations as users write them: ``90s``, ``15m``, ``24h``, ``2d`` (or combined, ``1h30m``)."""

from __future__ import annotations

import re

from reconciler.errors import UsageError

_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_WHOLE = re.compile(r"(?:\d+(?:\.\d+)?[smhd])+")


def parse_duration(text: str, option: str = "duration") -> float:
    """Seconds in ``text``; raises UsageError naming ``option`` when it is not a duration."""
    value = text.strip().lower()
    if value == "0":
        return 0.0
    if not _WHOLE.fullmatch(value):
        raise UsageError(
            f'Invalid {option} "{text}": write a number followed by s, m, h or d, '
            "for example 90s, 15m, 24h or 2d."
        )
    return sum(float(n) * _UNITS[unit] for n, unit in _PART.findall(value))


def format_duration(seconds: float) -> str:
    """The shortest exact form of ``seconds`` in the same notation, e.g. 5400 → ``1h30m``."""
    if seconds <= 0:
        return "0s"
    whole = int(seconds)
    if whole != seconds:
        return f"{seconds:g}s"
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, whole = divmod(whole, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts)


def format_remaining(seconds: float) -> str:
    """A rounded time left for people to read at a glance: ``12s``, ``3m 05s``, ``1h 02m``,
    ``2d 04h`` (two units at most; the second padded so a redrawn line does not jitter)."""
    whole = max(0, round(seconds))
    for big, size, small, small_size in (("d", 86400, "h", 3600), ("h", 3600, "m", 60),
                                         ("m", 60, "s", 1)):
        if whole >= size:
            count, rest = divmod(whole, size)
            return f"{count}{big} {rest // small_size:02d}{small}"
    return f"{whole}s"
