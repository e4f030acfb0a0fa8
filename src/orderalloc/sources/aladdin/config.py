"""`AladdinConfig`: every setting of the Aladdin client, explicit.

Nothing in the client reads the environment except `AladdinConfig.from_env`.

Environment variables (all optional except where noted)
--------------------------------------------------------

======================== ===============================================================
``ALADDIN_HOST``          Required. Your Aladdin web server, ``acme.blackrock.com`` (https is
                          assumed) or a full base URL ``https://acme.blackrock.com``.
``ALADDIN_API_KEY``       Required. Sent as ``VND.com.blackrock.API-Key``.
``ALADDIN_CLIENT_ID``     OAuth 2.0 client-credentials id (with ``ALADDIN_CLIENT_SECRET``).
``ALADDIN_CLIENT_SECRET`` OAuth 2.0 client secret.
``ALADDIN_USERNAME``      HTTP Basic user (with ``ALADDIN_PASSWORD``), when not using OAuth.
``ALADDIN_PASSWORD``      HTTP Basic password.
``ALADDIN_TOKEN_URL``     Token endpoint; default ``{base}/api/oauth2/default/v1/token``.
``ALADDIN_SCOPES``        Space- or comma-separated OAuth scopes to ask for.
``ALADDIN_TIMEOUT``       Seconds for read/write/pool timeouts (default 30; connect 10).
``ALADDIN_RATE_LIMIT``    Requests per minute, all threads together (default 100).
``ALADDIN_CACHE_TTL``     Seconds reads are cached (default 300; 0 disables the cache).
``ALADDIN_MAX_ATTEMPTS``  Attempts per read, first one included (default 5).
``ALADDIN_ROOT_GROUP``    The group whose sub-groups `groups()` lists.
``ALADDIN_GROUPS``        Comma-separated groups `groups()` lists when there is no root group.
``ALADDIN_PRICING_GROUP`` A portfolio or group whose positions price the securities
                          `security()` and `search_securities()` return (a model or
                          inventory portfolio holding the desk's universe).
``ALADDIN_BENCHMARKS``    ``GROUP=BENCHMARK,...``: the benchmark portfolio of each group,
                          for ``active_spread_duration``.
``ALADDIN_ACCOUNT_CODE``  Your organisation's Aladdin account code (``externalOrderReference
                          .accountCode``); needed by `find_order`.
======================== ===============================================================

Credentials are held as `Secret`, whose ``repr`` and ``str`` never show the value.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

import attrs
import httpx

from .errors import AladdinConfigError

__all__ = ["DEFAULT_TIMEOUT", "AladdinConfig", "Secret"]

#: 30 s to read, write or wait for a pooled connection; 10 s to connect.
DEFAULT_TIMEOUT = httpx.Timeout(30.0, connect=10.0)

#: The posType that counts open, authorized and active orders: the basis for what a sell may take.
POS_TYPE = "SOD+Trades+Orders"


class Secret:
    """A credential whose ``repr`` and ``str`` hide the value.

    Call `get_secret_value` at the one place that needs it (building a header).
    Two secrets are equal when their values are.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str):
            # The value is a credential: the message names its type, never the value.
            raise AladdinConfigError(f"Secret(value of type {type(value).__name__}): must be a str")
        self._value = value

    def get_secret_value(self) -> str:
        """The credential itself."""
        return self._value

    def __repr__(self) -> str:
        return "Secret('**********')"

    __str__ = __repr__

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other._value == self._value

    def __hash__(self) -> int:
        return hash(("Secret", self._value))

    def __bool__(self) -> bool:
        return bool(self._value)


def _secret(value: Secret | str | None) -> Secret | None:
    if value is None or isinstance(value, Secret):
        return value
    return Secret(value)


def _required_secret(value: Secret | str) -> Secret:
    secret = _secret(value)
    if secret is None or not secret:
        raise AladdinConfigError("AladdinConfig.api_key is required (ALADDIN_API_KEY)")
    return secret


def _base_url(value: object) -> str:
    if not isinstance(value, str) or not value.strip():
        raise AladdinConfigError("AladdinConfig.host is required (ALADDIN_HOST)")
    value = value.strip().rstrip("/")
    return value if "://" in value else f"https://{value}"


def _positive(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value > 0:
        raise AladdinConfigError(f"AladdinConfig.{attribute.name}={value!r}: must be > 0")


def _non_negative(_: object, attribute: attrs.Attribute[Any], value: float) -> None:
    if not value >= 0:
        raise AladdinConfigError(f"AladdinConfig.{attribute.name}={value!r}: must be >= 0")


@attrs.frozen(kw_only=True)
class AladdinConfig:
    """How to reach Aladdin and how politely.

    Args:
        host: The web server (``acme.blackrock.com``) or a base URL
            (``https://acme.blackrock.com``; tests use ``http://127.0.0.1:PORT``).
        api_key: Sent as ``VND.com.blackrock.API-Key`` on every request.
        client_id: OAuth 2.0 client id (client-credentials flow).
        client_secret: OAuth 2.0 client secret.
        username: HTTP Basic user, when not using OAuth.
        password: HTTP Basic password.
        token_url: The token endpoint (default
            ``{base}/api/oauth2/default/v1/token``).
        scopes: OAuth scopes to ask for (none: the client's defaults).
        timeout: The `httpx.Timeout` of each request.
        rate_limit: Requests per minute, across every thread using the client.
        rate_burst: Requests that may go back to back before the rate applies:
            at most ``rate_burst + rate_limit * t / 60`` requests in any ``t`` seconds.
        cache_ttl: Seconds a read is served from memory (0: no cache).
        max_attempts: Attempts per read (1 means no retry).
        max_retry_time: Total seconds a read may spend retrying.
        backoff_initial: First backoff in seconds (doubles, with jitter).
        backoff_max: Longest single wait, ``Retry-After`` included.
        page_size: ``pageSize`` asked for on paged lists.
        positions_batch: Portfolios per Positions request (``portGroup=A,B,...``).
        cash_batch: Portfolios per ``ladders:filter`` request (the API takes 100 at most).
        lro_poll_interval: First wait between polls of a long-running operation.
        lro_timeout: Seconds to wait for a long-running operation to be done.
        root_group: The group whose sub-groups `groups()` lists.
        groups: The groups `groups()` lists when there is no *root_group*.
        pricing_group: A portfolio or group whose positions price securities.
        benchmarks: Group -> benchmark portfolio ticker (for ``active_spread_duration``).
        account_code: Your organisation's Aladdin account code, sent in
            ``externalOrderReference.accountCode``; `find_order` needs it.
        pos_type: The Positions ``posType`` (default ``SOD+Trades+Orders``).

    Raises:
        AladdinConfigError: No host, no API key, half a credential pair, or a
            number out of range.
    """

    host: str = attrs.field(converter=_base_url)
    api_key: Secret = attrs.field(converter=_required_secret)
    client_id: str | None = None
    client_secret: Secret | None = attrs.field(default=None, converter=_secret)
    username: str | None = None
    password: Secret | None = attrs.field(default=None, converter=_secret)
    token_url: str | None = None
    scopes: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    timeout: httpx.Timeout = DEFAULT_TIMEOUT
    rate_limit: float = attrs.field(default=100.0, validator=_positive)
    rate_burst: int = attrs.field(default=1, validator=_positive)
    cache_ttl: float = attrs.field(default=300.0, validator=_non_negative)
    max_attempts: int = attrs.field(default=5, validator=_positive)
    max_retry_time: float = attrs.field(default=60.0, validator=_positive)
    backoff_initial: float = attrs.field(default=0.5, validator=_non_negative)
    backoff_max: float = attrs.field(default=30.0, validator=_non_negative)
    page_size: int = attrs.field(default=1000, validator=_positive)
    positions_batch: int = attrs.field(default=100, validator=_positive)
    cash_batch: int = attrs.field(default=100, validator=_positive)
    lro_poll_interval: float = attrs.field(default=0.5, validator=_positive)
    lro_timeout: float = attrs.field(default=120.0, validator=_positive)
    root_group: str | None = None
    groups: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    pricing_group: str | None = None
    benchmarks: Mapping[str, str] = attrs.field(factory=dict, converter=dict)
    account_code: str | None = None
    pos_type: str = POS_TYPE

    def __attrs_post_init__(self) -> None:
        if (self.client_id is None) != (self.client_secret is None):
            raise AladdinConfigError(
                "AladdinConfig: give both client_id and client_secret (OAuth 2.0) or neither"
            )
        if (self.username is None) != (self.password is None):
            raise AladdinConfigError(
                "AladdinConfig: give both username and password (HTTP Basic) or neither"
            )
        if self.client_id is None and self.username is None:
            raise AladdinConfigError(
                "AladdinConfig: no credentials; set client_id and client_secret "
                "(ALADDIN_CLIENT_ID, ALADDIN_CLIENT_SECRET) or username and password "
                "(ALADDIN_USERNAME, ALADDIN_PASSWORD)"
            )
        if self.cash_batch > 100:
            raise AladdinConfigError(
                f"AladdinConfig.cash_batch={self.cash_batch}: ladders:filter takes at most 100"
            )

    @property
    def base_url(self) -> str:
        """``scheme://host[:port]`` without a trailing slash."""
        return self.host

    @property
    def oauth(self) -> bool:
        """Whether the client authenticates with OAuth 2.0 client credentials."""
        return self.client_id is not None

    @property
    def resolved_token_url(self) -> str:
        """The token endpoint: *token_url* or ``{base}/api/oauth2/default/v1/token``."""
        return self.token_url or f"{self.base_url}/api/oauth2/default/v1/token"

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> AladdinConfig:
        """A config from the ``ALADDIN_*`` variables (see the module docstring).

        Args:
            environ: The mapping to read (default ``os.environ``).
            **overrides: Fields to set regardless of the environment.

        Raises:
            AladdinConfigError: A required variable is missing or a number
                does not parse. The message names the variable, never its value.
        """
        env = os.environ if environ is None else environ

        def get(name: str) -> str | None:
            value = env.get(f"ALADDIN_{name}")
            return value.strip() if value and value.strip() else None

        def number(name: str) -> float | None:
            raw = get(name)
            if raw is None:
                return None
            try:
                return float(raw)
            except ValueError:
                raise AladdinConfigError(f"ALADDIN_{name} must be a number") from None

        fields: dict[str, Any] = {
            "host": get("HOST") or "",
            "api_key": get("API_KEY") or "",
            "client_id": get("CLIENT_ID"),
            "client_secret": get("CLIENT_SECRET"),
            "username": get("USERNAME"),
            "password": get("PASSWORD"),
            "token_url": get("TOKEN_URL"),
            "root_group": get("ROOT_GROUP"),
            "pricing_group": get("PRICING_GROUP"),
            "account_code": get("ACCOUNT_CODE"),
        }
        scopes = get("SCOPES")
        if scopes:
            fields["scopes"] = tuple(s for s in scopes.replace(",", " ").split() if s)
        groups = get("GROUPS")
        if groups:
            fields["groups"] = tuple(g.strip() for g in groups.split(",") if g.strip())
        benchmarks = get("BENCHMARKS")
        if benchmarks:
            pairs = {}
            for item in benchmarks.split(","):
                group, sep, bench = item.partition("=")
                if not sep or not group.strip() or not bench.strip():
                    raise AladdinConfigError("ALADDIN_BENCHMARKS must read GROUP=BENCHMARK,...")
                pairs[group.strip()] = bench.strip()
            fields["benchmarks"] = pairs
        timeout = number("TIMEOUT")
        if timeout is not None:
            fields["timeout"] = httpx.Timeout(timeout, connect=min(timeout, 10.0))
        for name, field in (("RATE_LIMIT", "rate_limit"), ("CACHE_TTL", "cache_ttl")):
            value = number(name)
            if value is not None:
                fields[field] = value
        attempts = number("MAX_ATTEMPTS")
        if attempts is not None:
            fields["max_attempts"] = int(attempts)
        fields.update(overrides)
        return cls(**fields)

    @staticmethod
    def missing_credentials(environ: Mapping[str, str] | None = None) -> tuple[str, ...]:
        """The ``ALADDIN_*`` variables *environ* lacks for a connection (empty: none).

        A half-given pair names its other half (``ALADDIN_CLIENT_ID`` without
        ``ALADDIN_CLIENT_SECRET`` names the secret); no pair at all names both
        ways to authenticate.
        """
        env = os.environ if environ is None else environ

        def has(name: str) -> bool:
            return bool(env.get(f"ALADDIN_{name}", "").strip())

        missing = [f"ALADDIN_{name}" for name in ("HOST", "API_KEY") if not has(name)]
        pairs = (("CLIENT_ID", "CLIENT_SECRET"), ("USERNAME", "PASSWORD"))
        if any(has(a) and has(b) for a, b in pairs):
            return tuple(missing)
        started = [(a, b) for a, b in pairs if has(a) or has(b)]
        if started:
            a, b = started[0]
            missing.append(f"ALADDIN_{b if has(a) else a}")
        else:
            missing.append(
                "ALADDIN_CLIENT_ID and ALADDIN_CLIENT_SECRET "
                "(or ALADDIN_USERNAME and ALADDIN_PASSWORD)"
            )
        return tuple(missing)

    @staticmethod
    def any_credentials_in_env(environ: Mapping[str, str] | None = None) -> bool:
        """Whether *environ* sets any of the connection variables (host, key, credentials)."""
        env = os.environ if environ is None else environ
        names = ("HOST", "API_KEY", "CLIENT_ID", "CLIENT_SECRET", "USERNAME", "PASSWORD")
        return any(env.get(f"ALADDIN_{name}", "").strip() for name in names)

    @staticmethod
    def credentials_in_env(environ: Mapping[str, str] | None = None) -> bool:
        """Whether *environ* holds a host, an API key and one complete credential pair."""
        env = os.environ if environ is None else environ

        def has(name: str) -> bool:
            return bool(env.get(f"ALADDIN_{name}", "").strip())

        return (
            has("HOST")
            and has("API_KEY")
            and (
                (has("CLIENT_ID") and has("CLIENT_SECRET")) or (has("USERNAME") and has("PASSWORD"))
            )
        )
