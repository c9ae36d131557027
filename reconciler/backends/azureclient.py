"""Connecting to Azure Blob Storage, and turning its errors into messages a user can act on.

Credentials come from the environment only: ``AZURE_STORAGE_CONNECTION_STRING`` when set (it
must name the account that ``backend.account_url`` names, so a stale variable cannot silently
point the tool at another account), otherwise ``DefaultAzureCredential`` (workload identity in
CI, a managed identity, ``az login`` on a workstation). No message built here ever contains the
connection string or a key: only account URL, container and blob names.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from reconciler.errors import ConfigError

if TYPE_CHECKING:
    from azure.core.exceptions import HttpResponseError
    from azure.storage.blob import ContainerClient

CONNECTION_STRING_ENV = "AZURE_STORAGE_CONNECTION_STRING"
INSTALL_HINT = (
    "The azureblob state backend needs the Azure SDK: "
    "pip install 'partnercenter-reconciler[azure]'"
)


def require_sdk() -> None:
    """Raise ConfigError with the one-line install hint when the ``azure`` extra is missing."""
    try:
        import azure.identity
        import azure.storage.blob  # noqa: F401
    except ImportError:
        raise ConfigError(INSTALL_HINT, hint="install the azure extra") from None


def container_client(account_url: str, container: str, env: Mapping[str, str]) -> ContainerClient:
    """A client for ``container``, authenticated from ``env``; opening makes no request."""
    from azure.storage.blob import BlobServiceClient, ExponentialRetry

    # Short, bounded retries: a lease must be renewed within its 60 s, so no single call may
    # sit in the SDK's default backoff (15 s, then 18 s, ...) for longer than a renewal period.
    options: dict[str, Any] = {
        "retry_policy": ExponentialRetry(initial_backoff=1, increment_base=2, retry_total=3),
        "connection_timeout": 10,
        "read_timeout": 60,
    }
    connection_string = env.get(CONNECTION_STRING_ENV)
    if connection_string:
        service = BlobServiceClient.from_connection_string(connection_string, **options)
        if _normalise(service.url) != _normalise(account_url):
            raise ConfigError(
                f"{CONNECTION_STRING_ENV} is for the blob endpoint {_normalise(service.url)}, "
                f"but backend.account_url is {_normalise(account_url)}; make them name the "
                "same storage account."
            )
    else:
        from azure.identity import DefaultAzureCredential

        service = BlobServiceClient(account_url, credential=DefaultAzureCredential(), **options)
    return service.get_container_client(container)


def _normalise(url: str) -> str:
    # Drop a query (a SAS) so it is neither compared nor ever shown.
    return url.split("?", 1)[0].rstrip("/")


def error_code(exc: HttpResponseError) -> str:
    """The storage error code of a failed call (e.g. "LeaseAlreadyPresent"), or ""."""
    code = getattr(exc, "error_code", None)
    return str(getattr(code, "value", code) or "")


def describe_error(exc: Exception) -> str:
    """A short, secret-free description of a failed storage call."""
    from azure.core.exceptions import ClientAuthenticationError, HttpResponseError

    if isinstance(exc, ClientAuthenticationError):
        return (
            "authentication failed (check AZURE_STORAGE_CONNECTION_STRING, or the identity "
            "DefaultAzureCredential found, and its role on the container)"
        )
    if isinstance(exc, HttpResponseError):
        code = error_code(exc) or "no error code"
        return f"HTTP {exc.status_code} {code}"
    return f"{type(exc).__name__}: {_first_line(str(exc))}"


def _first_line(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= 200 else line[:197] + "..."
