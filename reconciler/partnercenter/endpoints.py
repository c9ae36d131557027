"""Endpoint, authority and Location handling: small pure functions over URLs."""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import SplitResult, urlsplit

from .errors import InvalidEndpointError

__all__ = [
    "CHINA_ENDPOINT",
    "DEFAULT_AUTHORITY",
    "DEFAULT_ENDPOINT",
    "GLOBAL_SCOPE",
    "default_scope",
    "is_loopback_host",
    "is_microsoft_authority",
    "is_microsoft_endpoint",
    "parse_location",
    "shown_url",
    "validate_authority",
    "validate_endpoint",
]

DEFAULT_ENDPOINT = "https://api.partnercenter.microsoft.com"
CHINA_ENDPOINT = "https://partner.partnercenterapi.microsoftonline.cn"
DEFAULT_AUTHORITY = "https://login.microsoftonline.com"
GLOBAL_SCOPE = "https://api.partnercenter.microsoft.com/user_impersonation"

# Sign-in hosts msal knows; any other host (a test token server) needs instance discovery off.
_MICROSOFT_AUTHORITY_HOSTS = frozenset(
    {
        "login.microsoftonline.com",
        "login.microsoftonline.us",
        "login.microsoftonline.de",
        "login.chinacloudapi.cn",
        "login.partner.microsoftonline.cn",
        "login.windows.net",
        "login.microsoft.com",
        "sts.windows.net",
    }
)

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")


def is_loopback_host(host: str) -> bool:
    """True for ``localhost``, 127.0.0.0/8 and ::1."""
    name = host.strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


#: ``scheme://`` then user information (up to the last ``@`` before the path): what a URL
#: may carry a user name, password or token in.
_USERINFO = re.compile(r"^(?P<scheme>[^:/?#]*:)?//[^/?#]*@")
#: What an error shows of a refused URL at most.
_SHOWN = 120


def shown_url(url: str) -> str:
    """``url`` fit to quote in an error: user information and any query or fragment (where
    credentials and signatures travel) replaced by ``***``, control characters escaped, cut
    short. Works on text that is not a valid URL, since that is when it is quoted."""
    text = _USERINFO.sub(lambda m: f"{m['scheme'] or ''}//***@", url.strip())
    text = re.sub(r"([?#]).*", r"\1***", text, flags=re.S)
    text = "".join(ch if ch.isprintable() else ch.encode("unicode_escape").decode("ascii")
                   for ch in text)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 1] + "…"


def validate_endpoint(url: str) -> str:
    """Check a Partner Center API root and return it without a trailing slash.

    ``https://`` is required; ``http://`` is accepted only for a loopback host (the simulator),
    because a bearer token must never cross a network in clear text.
    """
    parts = _split(url, "endpoint")
    if parts.scheme == "http" and not is_loopback_host(parts.hostname or ""):
        raise InvalidEndpointError(
            f"The endpoint {shown_url(url)!r} uses http:// on a non-loopback host; "
            "use https:// (http:// is only allowed for 127.0.0.0/8, ::1 and localhost)."
        )
    return url.strip().rstrip("/")


def validate_authority(url: str) -> str:
    """Check a sign-in authority host URL (msal accepts https only) and strip trailing slashes."""
    parts = _split(url, "authority")
    if parts.scheme != "https":
        raise InvalidEndpointError(
            f"The authority {shown_url(url)!r} must use https:// (the sign-in library refuses "
            "anything else)."
        )
    return url.strip().rstrip("/")


def is_microsoft_authority(url: str) -> bool:
    """True when the authority is a Microsoft sign-in host msal can discover."""
    return (urlsplit(url).hostname or "").lower() in _MICROSOFT_AUTHORITY_HOSTS


#: The domains of Partner Center's API roots (every cloud).
_MICROSOFT_API_DOMAINS = ("microsoft.com", "microsoft.us", "microsoftonline.cn",
                          "microsoftonline.us", "microsoftonline.de")


def is_microsoft_endpoint(url: str) -> bool:
    """True when the API root is on a Microsoft domain (or a loopback host: nothing leaves
    the machine)."""
    host = (urlsplit(url).hostname or "").lower()
    return is_loopback_host(host) or any(host == d or host.endswith("." + d)
                                         for d in _MICROSOFT_API_DOMAINS)


def default_scope(endpoint: str) -> str:
    """The App+User scope for an API root.

    The China cloud has its own resource; every other cloud (and a local simulator) uses the
    global Partner Center resource.
    """
    host = (urlsplit(endpoint).hostname or "").lower()
    if host.endswith(".microsoftonline.cn"):
        return f"{CHINA_ENDPOINT}/user_impersonation"
    return GLOBAL_SCOPE


def parse_location(location: str | None) -> str | None:
    """Extract the upgrade id from a create's ``Location`` header, or None without one.

    Accepts ``productUpgrades/<id>``, ``/v1/productUpgrades/<id>/status`` and absolute URLs;
    the last GUID wins. Upgrade ids are GUIDs: a Location without one names no upgrade (a
    segment such as ``blank`` recorded as the id would make every later status read fail), so
    the caller finds the id through eligibility instead.
    """
    if not location or not location.strip():
        return None
    path = urlsplit(location.strip()).path or location.strip()
    guids = _GUID.findall(path)
    return str(guids[-1]).lower() if guids else None


def _split(url: str, what: str) -> SplitResult:
    try:
        parts = urlsplit(url.strip())
        _ = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        # The parser's message may quote the URL (a password in it included); say only what.
        why = ": its port is not a number from 0 to 65535" if "port" in str(exc).lower() else ""
        raise InvalidEndpointError(
            f"The {what} {shown_url(url)!r} is not a valid URL{why}.") from exc
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidEndpointError(
            f"The {what} {shown_url(url)!r} is not an absolute http(s) URL with a host name."
        )
    if parts.query or parts.fragment or parts.username or parts.password:
        raise InvalidEndpointError(
            f"The {what} {shown_url(url)!r} must not contain a query, fragment or user "
            "information (credentials belong in the environment, never in a URL)."
        )
    return parts

