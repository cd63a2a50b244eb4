"""DPoP configuration: one frozen value object, checked when it is built (pure)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal, get_args
from urllib.parse import urlsplit

from .._errors import ConfigurationError
from .._store.memory import MemoryStore, Store
from .nonce import NonceSource
from .proof import DPOP_ALGORITHMS, MAX_PROOF_SIZE
from .url import ForwardedHeaders

__all__ = ["DPoPMode", "DPoPSettings", "StoreFailure"]

#: ``bearer``: only ``Bearer`` (DPoP-bound tokens are refused); ``allowed``:
#: ``Bearer`` or ``DPoP``; ``required``: only ``DPoP``.
DPoPMode = Literal["bearer", "allowed", "required"]
#: What a DPoP request gets when the replay store cannot answer: ``fail_closed``
#: (503 with ``Retry-After``) or ``fail_open`` (accepted without a replay check).
StoreFailure = Literal["fail_closed", "fail_open"]

_DEFAULT_ALGORITHMS = ("ES256", "ES384", "Ed25519", "EdDSA", "PS256", "RS256")


def _number(option: str, value: object, *, minimum: float, maximum: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigurationError(f"{option}: must be a number of seconds")
    if not minimum <= value <= maximum:
        raise ConfigurationError(f"{option}: must be between {minimum} and {maximum}")


@dataclass(frozen=True)
class DPoPSettings:
    """How DPoP (RFC 9449) proofs are accepted.

    Attributes:
        mode: which authorization schemes are accepted (see :data:`DPoPMode`).
        algorithms: accepted proof signature algorithms (asymmetric only);
            advertised in ``WWW-Authenticate: DPoP algs="..."``.
        max_age: how old a proof's ``iat`` may be, in seconds.
        leeway: how far in the future ``iat`` may be (client clock skew), in seconds.
        nonce_secret: turns on server nonces (RFC 9449 section 9) when set:
            at least 32 random bytes, the same on every replica.
        nonce_step: seconds per nonce time step (a nonce lives one to two steps).
        store: where proof ``jti`` values are recorded; the default
            :class:`~okta_bearer.MemoryStore` only protects one process, so
            give every replica the same shared store: a
            ``okta_bearer.redis_store.RedisStore``, or its URL
            (``"redis://host:6379/0"``, built with the default 0.5 s timeout;
            the middleware closes a store it built at lifespan shutdown).
        store_failure: answer when the store cannot: see :data:`StoreFailure`.
        retry_after: ``Retry-After`` seconds of the 503 for a store outage.
        origin: the public ``scheme://host[:port]`` clients use; when set,
            the request's ``Host`` and proxy headers are never read for ``htu``.
        forwarded: trust ``"forwarded"`` (RFC 7239) or ``"x-forwarded"``
            headers for scheme and host; only when your own proxy overwrites them.
        max_proof_size: longest ``DPoP`` header accepted, in characters.

    Raises:
        ConfigurationError: naming the option, for any invalid value.
    """

    mode: DPoPMode = "allowed"
    algorithms: Sequence[str] = _DEFAULT_ALGORITHMS
    max_age: float = 60.0
    leeway: float = 5.0
    nonce_secret: bytes | str | None = field(default=None, repr=False)
    nonce_step: int = 300
    store: Store | str = field(default_factory=MemoryStore)
    store_failure: StoreFailure = "fail_closed"
    retry_after: int = 5
    origin: str | None = None
    forwarded: ForwardedHeaders = None
    max_proof_size: int = MAX_PROOF_SIZE
    #: Whether ``store`` was built here from a URL (and so is the user's to forget).
    owns_store: bool = field(default=False, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.mode not in get_args(DPoPMode):
            raise ConfigurationError(f"mode: must be one of {get_args(DPoPMode)}")
        if isinstance(self.algorithms, str) or not self.algorithms:
            raise ConfigurationError("algorithms: must be a non-empty list of algorithm names")
        for alg in self.algorithms:
            if alg not in DPOP_ALGORITHMS:
                raise ConfigurationError(
                    f"algorithms: {alg!r} is refused; DPoP proofs use one of "
                    f"{', '.join(sorted(DPOP_ALGORITHMS))} (never none or HS*)"
                )
        object.__setattr__(self, "algorithms", tuple(dict.fromkeys(self.algorithms)))
        _number("max_age", self.max_age, minimum=1, maximum=3600)
        _number("leeway", self.leeway, minimum=0, maximum=300)
        if self.nonce_secret is not None:
            NonceSource(self.nonce_secret, self.nonce_step)  # raises on a bad secret/step
        if isinstance(self.store, str):
            object.__setattr__(self, "store", _redis_store(self.store))
            object.__setattr__(self, "owns_store", True)
        if not isinstance(self.store, Store):
            raise ConfigurationError("store: must implement okta_bearer.Store or be a Redis URL")
        if self.store_failure not in get_args(StoreFailure):
            raise ConfigurationError(f"store_failure: must be one of {get_args(StoreFailure)}")
        if isinstance(self.retry_after, bool) or not isinstance(self.retry_after, int):
            raise ConfigurationError("retry_after: must be a whole number of seconds")
        if not 1 <= self.retry_after <= 3600:
            raise ConfigurationError("retry_after: must be between 1 and 3600")
        if self.origin is not None:
            _check_origin(self.origin)
        if self.forwarded not in (None, "forwarded", "x-forwarded"):
            raise ConfigurationError("forwarded: must be None, 'forwarded' or 'x-forwarded'")
        if self.origin is not None and self.forwarded is not None:
            raise ConfigurationError("origin and forwarded: set one of them, not both")
        size = self.max_proof_size
        if isinstance(size, bool) or not isinstance(size, int) or not 512 <= size <= 65536:
            raise ConfigurationError("max_proof_size: must be an integer from 512 to 65536")

    @property
    def replay_window(self) -> float:
        """Seconds a proof stays acceptable (``max_age + leeway``).

        A proof's ``jti`` is kept twice as long plus a second (``2 * (max_age
        + leeway) + 1``, 131 s by default), so that a wall-clock step back
        cannot outlast it (``okta_bearer._dpop.clock``).
        """
        return float(self.max_age + self.leeway)

    @property
    def replay_store(self) -> Store:
        """The store proof ``jti`` values go to (``store``, once a URL is built into one)."""
        assert not isinstance(self.store, str)  # converted in __post_init__
        return self.store

    def nonces(self) -> NonceSource | None:
        """The nonce source, or ``None`` when nonces are off."""
        if self.nonce_secret is None:
            return None
        return NonceSource(self.nonce_secret, self.nonce_step)


def _redis_store(url: str) -> Store:
    # Imported here: redis-py is an optional extra, needed only for a URL.
    try:
        from ..redis_store import RedisStore
    except ImportError as exc:
        raise ConfigurationError(
            "store: a Redis URL needs redis-py: pip install 'okta-bearer[redis]'"
        ) from exc
    try:
        return RedisStore(url)
    except ConfigurationError as exc:
        # RedisStore names its own option ("url: ..."); here it is this one.
        raise ConfigurationError(f"store: {exc}") from None


def _check_origin(origin: object) -> None:
    if not isinstance(origin, str):
        raise ConfigurationError("origin: must be a string such as 'https://api.example.com'")
    try:
        parts = urlsplit(origin)
        parts.port  # noqa: B018  (parsing the port is the check)
    except ValueError as exc:
        raise ConfigurationError(f"origin: {origin!r} is not a valid URL") from exc
    if (
        parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
        or "@" in parts.netloc
    ):
        raise ConfigurationError(
            f"origin: {origin!r} must be scheme://host[:port] only (no path, query or user)"
        )
