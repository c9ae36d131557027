"""Endpoint validation and Location parsing."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from reconciler.partnercenter.endpoints import (
    default_scope,
    is_loopback_host,
    is_microsoft_authority,
    parse_location,
    validate_authority,
    validate_endpoint,
)
from reconciler.partnercenter.errors import InvalidEndpointError

GUID = "3f2c1b7e-8a9d-4c3b-9e2f-1a2b3c4d5e6f"


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("https://api.partnercenter.microsoft.com", "https://api.partnercenter.microsoft.com"),
        ("https://api.partnercenter.microsoft.com/", "https://api.partnercenter.microsoft.com"),
        ("https://example.test:8443/pc/", "https://example.test:8443/pc"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://127.5.6.7", "http://127.5.6.7"),
        ("http://localhost:1234/", "http://localhost:1234"),
        ("http://LOCALHOST", "http://LOCALHOST"),
        ("http://[::1]:9000", "http://[::1]:9000"),
    ],
)
def test_valid_endpoints(url: str, expected: str) -> None:
    assert validate_endpoint(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://api.partnercenter.microsoft.com",
        "http://10.0.0.1:8080",
        "http://128.0.0.1",
        "http://localhost.evil.example",
        "http://[::2]",
        "ftp://127.0.0.1",
        "api.partnercenter.microsoft.com",
        "https://",
        "https://host:notaport",
        "https://host/?q=1",
        "https://user:pw@host",
        "",
    ],
)
def test_refused_endpoints(url: str) -> None:
    with pytest.raises(InvalidEndpointError):
        validate_endpoint(url)


def test_http_refusal_names_the_rule() -> None:
    with pytest.raises(InvalidEndpointError, match="loopback"):
        validate_endpoint("http://pc.example.com")


@pytest.mark.parametrize(
    ("host", "expected"),
    [("localhost", True), ("127.0.0.1", True), ("127.255.0.9", True), ("::1", True),
     ("[::1]", True), ("0.0.0.0", False), ("example.com", False), ("", False)],
)
def test_is_loopback_host(host: str, expected: bool) -> None:
    assert is_loopback_host(host) is expected


@pytest.mark.parametrize(
    "location",
    [
        f"productUpgrades/{GUID}",
        f"productupgrades/{GUID}",
        f"/v1/productUpgrades/{GUID}",
        f"/v1/productUpgrades/{GUID}/status",
        f"https://api.partnercenter.microsoft.com/v1/productUpgrades/{GUID}",
        f"https://api.partnercenter.microsoft.com/v1/productUpgrades/{GUID}/status",
        f"  productUpgrades/{GUID.upper()}  ",
        f"/v1/customers/11111111-2222-3333-4444-555555555555/productUpgrades/{GUID}",
    ],
)
def test_parse_location(location: str) -> None:
    assert parse_location(location) == GUID


@pytest.mark.parametrize(
    ("location", "expected"),
    [(None, None), ("", None), ("productUpgrades/", None), ("productUpgrades/abc", None),
     ("productUpgrades/blank", None), ("/v1/productUpgrades/abc/status", None),
     ("/status", None)],
)
def test_parse_location_without_guid(location: str | None, expected: str | None) -> None:
    assert parse_location(location) == expected


def test_authority() -> None:
    assert validate_authority("https://login.microsoftonline.us/") == (
        "https://login.microsoftonline.us"
    )
    with pytest.raises(InvalidEndpointError, match="https"):
        validate_authority("http://127.0.0.1:8000")
    assert is_microsoft_authority("https://login.microsoftonline.com")
    assert is_microsoft_authority("https://login.chinacloudapi.cn")
    assert not is_microsoft_authority("https://127.0.0.1:4433")


def test_default_scope() -> None:
    glob = "https://api.partnercenter.microsoft.com/user_impersonation"
    assert default_scope("https://api.partnercenter.microsoft.com") == glob
    assert default_scope("http://127.0.0.1:9") == glob
    assert default_scope("https://partner.partnercenterapi.microsoftonline.cn") == (
        "https://partner.partnercenterapi.microsoftonline.cn/user_impersonation"
    )


@pytest.mark.parametrize(
    "url",
    ["https://admin:hunter2@pc.example", "http://hunter2@10.0.0.1", "https://a:hunter2@h:99999",
     "https://a:hunter2@h:port", "ftp://a:hunter2@h", "https://h/?sig=hunter2",
     "https://h/#hunter2", "https://a:hunter2@@h/x"],
)
def test_a_refused_url_is_quoted_without_its_credentials(url: str) -> None:
    """Issue 19, item 7: the error that refuses a URL holding credentials must not echo them."""
    for validate in (validate_endpoint, validate_authority):
        with pytest.raises(InvalidEndpointError) as refused:
            validate(url)
        assert "hunter2" not in str(refused.value)
        assert "***" in str(refused.value) or "a valid URL" in str(refused.value)


def test_the_cli_does_not_echo_an_endpoints_password(run_cli: Callable[..., Any],
                                                     tmp_path: Path) -> None:
    (tmp_path / "manifests").mkdir()
    (tmp_path / "manifests" / "a.yaml").write_text(
        "apiVersion: reconciler/v1\nkind: ProductUpgrades\nmetadata:\n  name: a\nspec:\n"
        "  productFamily: Azure\n  customers:\n    - id: 00000000-0000-4000-8000-000000000001\n")
    result = run_cli("plan", "--endpoint", "https://admin:hunter2@pc.example", cwd=tmp_path,
                     env={"PARTNER_CENTER_ACCESS_TOKEN": "t"})
    assert result.code == 1
    assert "hunter2" not in result.stdout + result.stderr
    assert "https://***@pc.example" in result.stderr
    assert "Traceback" not in result.stderr
