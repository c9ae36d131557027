"""Which operation a request is for. Paths are matched case-insensitively, as the docs vary."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True, slots=True)
class Route:
    """A matched operation: its name, the fault group it belongs to, and path parameters."""

    name: str
    fault_route: str
    param: str | None = None
    query: tuple[tuple[str, str], ...] = ()

    def query_value(self, key: str) -> str | None:
        """The first value of a query parameter (keys case-insensitive)."""
        lowered = key.lower()
        return next((v for k, v in self.query if k.lower() == lowered), None)


# The alias status route ("upgradestatus") is an inference from SDK naming; see docs/simulator.md.
_POST_ROUTES: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"^/v1/productupgrades/eligibility$"), "eligibility", "eligibility"),
    (re.compile(r"^/v1/productupgrades$"), "create", "create"),
    (re.compile(r"^/v1/productupgrades/([^/]+)/(?:upgrade)?status$"), "status", "status"),
)
_GET_ROUTES: tuple[tuple[re.Pattern[str], str, str], ...] = (
    (re.compile(r"^/v1/customers$"), "customers", "customers"),
    (re.compile(r"^/v1/customers/([^/]+)/subscriptions$"), "subscriptions", "customers"),
)


def _normalize(raw_path: str) -> tuple[str, str]:
    parts = urlsplit(raw_path)
    return parts.path.lower().rstrip("/") or "/", parts.query


@lru_cache(maxsize=4096)
def match(method: str, raw_path: str) -> Route | None:
    """The route for ``method`` and ``raw_path``, or None.

    Cached: routes are immutable and a benchmark repeats the same few paths.
    """
    path, raw_query = _normalize(raw_path)
    table = _POST_ROUTES if method == "POST" else _GET_ROUTES if method == "GET" else ()
    for pattern, name, fault_route in table:
        found = pattern.match(path)
        if found:
            query = tuple(
                (k, v)
                for k, values in parse_qs(raw_query, keep_blank_values=True).items()
                for v in values
            )
            param = found.group(1) if found.groups() else None
            return Route(name, fault_route, param, query)
    return None


def known_path(raw_path: str) -> bool:
    """Whether some method serves ``raw_path`` (so a miss is 405, not 404)."""
    path, _ = _normalize(raw_path)
    return any(pattern.match(path) for pattern, _, _ in (*_POST_ROUTES, *_GET_ROUTES))
