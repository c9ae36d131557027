"""A small, self-contained client for Partner Center product upgrades.

Knows HTTP and Partner Center, nothing about plans or state; it imports nothing from the rest
of ``reconciler`` except ``__version__`` (for the MS-PartnerCenter-Application header).

::

    provider = token_provider_from_env(os.environ, endpoint)      # or StaticToken("...")
    with PartnerCenterClient(ClientConfig(endpoint=endpoint, max_concurrency=4), provider) as pc:
        answer = pc.eligibility(customer_id, "Azure")
        if answer.is_eligible:
            result = pc.create(customer_id, "Azure", request_id)  # request_id persisted first
            if result.kind is CreateKind.OUTCOME_UNKNOWN:
                answer = pc.eligibility(customer_id, "Azure")     # upgrade_id tells the truth

One client is shared by every worker thread: the rate controller, concurrency limit, token
cache and connection pool are all thread-safe. Exceptions raised by an ``on_attempt`` callback
propagate to the caller.
"""

from .auth import (
    ClientCertificate,
    MsalRefreshTokenProvider,
    StaticToken,
    TokenProvider,
)
from .client import ALREADY_EXISTS_CODES, INELIGIBLE_CODES, PartnerCenterClient
from .config import APPLICATION_NAME, ClientConfig
from .deadline import Deadline
from .endpoints import (
    DEFAULT_AUTHORITY,
    DEFAULT_ENDPOINT,
    is_loopback_host,
    parse_location,
    validate_authority,
    validate_endpoint,
)
from .environment import ENV_VARS, token_provider_from_env
from .errors import (
    ApiFault,
    AuthenticationError,
    ConfigurationError,
    ConsentRequiredError,
    CredentialsError,
    DeadlineExceeded,
    InvalidEndpointError,
    InvalidRequestError,
    NotEligibleError,
    NotFoundError,
    PartnerCenterError,
    PermissionDeniedError,
    ServiceError,
    ThrottledError,
    TransportError,
    UpgradeNotFoundError,
    UpgradeOwnershipError,
    parse_fault,
)
from .limiter import ConcurrencyLimit, RateLimiter
from .models import (
    AttemptInfo,
    ClientStats,
    CreateKind,
    CreateResult,
    Customer,
    Eligibility,
    ErrorDetails,
    LineItem,
    Product,
    Subscription,
    UpgradeStatus,
)
from .retry import Failure, RetryPolicy, backoff, parse_retry_after, retry_delay, should_retry
from .throttle import RateController, RateMemo, RatePolicy

__all__ = [
    "ALREADY_EXISTS_CODES",
    "APPLICATION_NAME",
    "DEFAULT_AUTHORITY",
    "DEFAULT_ENDPOINT",
    "ENV_VARS",
    "INELIGIBLE_CODES",
    "ApiFault",
    "AttemptInfo",
    "AuthenticationError",
    "ClientCertificate",
    "ClientConfig",
    "ClientStats",
    "ConcurrencyLimit",
    "ConfigurationError",
    "ConsentRequiredError",
    "CreateKind",
    "CreateResult",
    "CredentialsError",
    "Customer",
    "Deadline",
    "DeadlineExceeded",
    "Eligibility",
    "ErrorDetails",
    "Failure",
    "InvalidEndpointError",
    "InvalidRequestError",
    "LineItem",
    "MsalRefreshTokenProvider",
    "NotEligibleError",
    "NotFoundError",
    "PartnerCenterClient",
    "PartnerCenterError",
    "PermissionDeniedError",
    "Product",
    "RateController",
    "RateLimiter",
    "RateMemo",
    "RatePolicy",
    "RetryPolicy",
    "ServiceError",
    "StaticToken",
    "Subscription",
    "ThrottledError",
    "TokenProvider",
    "TransportError",
    "UpgradeNotFoundError",
    "UpgradeOwnershipError",
    "UpgradeStatus",
    "backoff",
    "is_loopback_host",
    "parse_fault",
    "parse_location",
    "parse_retry_after",
    "retry_delay",
    "should_retry",
    "token_provider_from_env",
    "validate_authority",
    "validate_endpoint",
]
