"""RFC 9728 protected resource metadata, built from configuration (pure).

A resource server that knows its resource identifier (the URL clients call it
by, e.g. ``https://api.example/mcp``) publishes a JSON document at a well-known
URL derived from that identifier, and names that URL in every challenge
(``resource_metadata="..."``, RFC 9728 section 5.1).  Clients read it to find
the authorization server.  Everything here comes from configuration: the
document, its URL and the paths it is served at never depend on a request's
``Host`` or forwarded headers, so a proxy cannot make the resource advertise
another authorization server (RFC 9728 section 7.3, 7.6).
"""

from __future__ import annotations

import ipaddress
import json
from collections.abc import Iterable
from typing import Any
from urllib.parse import urlsplit

from .._errors import ConfigurationError
from .._options import checked_options

__all__ = [
    "WELL_KNOWN_PATH",
    "ProtectedResource",
    "declared_scopes",
    "metadata_url",
    "resource_identifier",
]

#: RFC 9728 section 3: the well-known URI suffix, registered in section 8.3.
WELL_KNOWN_PATH = "/.well-known/oauth-protected-resource"

_Headers = list[tuple[bytes, bytes]]


def _is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _url(option: str, value: object, *, path_allowed: bool = True) -> str:
    """Check an https (or loopback http) URL without query, fragment or user info."""
    if not isinstance(value, str) or not value:
        raise ConfigurationError(f"{option} must be a URL string")
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
        parts.port  # noqa: B018 - raises ValueError for a malformed port
    except ValueError as exc:
        raise ConfigurationError(f"{option} is not a valid URL: {value!r}") from exc
    if parts.scheme not in ("https", "http") or not host:
        raise ConfigurationError(f"{option} must be an absolute https:// URL: {value!r}")
    if parts.scheme == "http" and not _is_loopback_host(host):
        raise ConfigurationError(f"{option} must use https:// (plain http only on loopback)")
    if "#" in value:
        raise ConfigurationError(f"{option} must not have a fragment (RFC 8707 section 2)")
    if parts.query or "?" in value:
        raise ConfigurationError(f"{option} must not have a query")
    if parts.username is not None or parts.password is not None:
        raise ConfigurationError(f"{option} must not carry user info")
    if any(c.isspace() or c in '"\\' for c in value) or not value.isascii():
        raise ConfigurationError(f"{option} must be plain ASCII without spaces or quotes")
    if not path_allowed and parts.path not in ("", "/"):
        raise ConfigurationError(f"{option} must not have a path")
    return value


def resource_identifier(value: object, option: str = "resource") -> str:
    """Check an RFC 9728 / RFC 8707 resource identifier and return it unchanged.

    An ``https`` URL (``http`` only on loopback) with a host, no fragment, no
    query and no user info.  It is kept byte for byte: the metadata's
    ``resource`` and the audience check compare it exactly.

    Raises:
        ConfigurationError: naming ``option``.
    """
    return _url(option, value)


def metadata_url(resource: str) -> str:
    """The metadata URL for ``resource`` (RFC 9728 section 3.1).

    The well-known suffix goes between the host and the path:
    ``https://api.example/mcp`` -> ``https://api.example/.well-known/oauth-protected-resource/mcp``;
    a bare trailing ``/`` after the host is dropped.
    """
    parts = urlsplit(resource)
    path = "" if parts.path == "/" else parts.path
    return f"{parts.scheme}://{parts.netloc}{WELL_KNOWN_PATH}{path}"


#: How many ``.app`` links :func:`declared_scopes` follows (middleware stacks are shallow).
_MAX_WRAPPERS = 32


def declared_scopes(app: object) -> tuple[str, ...]:
    """The scopes ``app`` and the ASGI apps it wraps declare they check.

    An app declares them in a ``scopes_supported`` tuple, as
    :class:`okta_bearer.mcp.ToolScopes` does for its tool table; wrappers are
    followed through their ``app`` attribute, the Starlette middleware
    convention.  The middleware adds them to the document's
    ``scopes_supported``, so the table that drives the check also drives
    what the document says (they cannot drift).
    """
    found: list[str] = []
    for _ in range(_MAX_WRAPPERS):
        if app is None:
            break
        listed = getattr(app, "scopes_supported", None)
        if isinstance(listed, tuple):
            found.extend(s for s in listed if isinstance(s, str))
        app = getattr(app, "app", None)
    return tuple(dict.fromkeys(found))


def _strings(option: str, values: Iterable[str] | None) -> tuple[str, ...] | None:
    if values is None:
        return None
    if isinstance(values, str):
        raise ConfigurationError(f"{option} must be a list of strings, not one string")
    found = tuple(values)
    if not all(isinstance(v, str) and v for v in found):
        raise ConfigurationError(f"{option} entries must be non-empty strings")
    return found


@checked_options
class ProtectedResource:
    """What a protected resource says about itself (RFC 9728 section 2).

    Args:
        resource: the resource identifier, e.g. ``https://api.example/mcp``
            (checked by :func:`resource_identifier`, kept byte for byte).
        authorization_servers: issuer URLs of the authorization servers whose
            tokens are accepted; the middleware fills in every issuer its
            verifier accepts when left empty, and refuses a list naming one
            it does not (see :meth:`describing`).
        scopes_supported: scopes used to request access to this resource
            (omitted from the document when ``None``); the middleware adds
            its required scopes and those of a ``ToolScopes`` table.
        resource_name: a human-readable name (``resource_name``).
        resource_documentation: a URL of developer documentation.
        resource_policy_uri: a URL of the data-use policy.
        resource_tos_uri: a URL of the terms of service.
        resource_signing_alg_values_supported: JWS algorithms the resource uses
            to sign its *responses* (RFC 9728 section 2); leave it out unless
            the API signs responses.  It says nothing about access tokens.
        dpop_signing_alg_values_supported: JWS algorithms accepted in DPoP
            proofs (RFC 9728 section 2, RFC 9449); the middleware fills it
            from ``dpop=`` (``allowed`` or ``required`` mode) and refuses a
            value that differs from the settings' algorithms.
        dpop_bound_access_tokens_required: whether only DPoP-bound tokens are
            accepted; the middleware sets it in ``required`` mode and refuses
            ``True`` in any other.
        max_age: seconds clients and caches may reuse the document
            (``Cache-Control: public, max-age=N``), 0 to 86400.

    Raises:
        ConfigurationError: an option is invalid; the message names it.
    """

    __slots__ = (
        "_body",
        "authorization_servers",
        "dpop_bound_access_tokens_required",
        "dpop_signing_alg_values_supported",
        "max_age",
        "resource",
        "resource_documentation",
        "resource_name",
        "resource_policy_uri",
        "resource_signing_alg_values_supported",
        "resource_tos_uri",
        "scopes_supported",
    )

    def __init__(
        self,
        resource: str,
        *,
        authorization_servers: Iterable[str] = (),
        scopes_supported: Iterable[str] | None = None,
        resource_name: str | None = None,
        resource_documentation: str | None = None,
        resource_policy_uri: str | None = None,
        resource_tos_uri: str | None = None,
        resource_signing_alg_values_supported: Iterable[str] | None = None,
        dpop_signing_alg_values_supported: Iterable[str] | None = None,
        dpop_bound_access_tokens_required: bool = False,
        max_age: int = 3600,
    ) -> None:
        self.resource = resource_identifier(resource)
        servers = _strings("authorization_servers", authorization_servers) or ()
        self.authorization_servers = tuple(_url("authorization_servers", s) for s in servers)
        self.scopes_supported = _strings("scopes_supported", scopes_supported)
        if self.scopes_supported is not None and any(
            c.isspace() or c in '"\\' for s in self.scopes_supported for c in s
        ):
            raise ConfigurationError("scopes_supported entries must be RFC 6749 scope tokens")
        if resource_name is not None and (not isinstance(resource_name, str) or not resource_name):
            raise ConfigurationError("resource_name must be a non-empty string")
        self.resource_name = resource_name
        self.resource_documentation = _optional_url(
            "resource_documentation", resource_documentation
        )
        self.resource_policy_uri = _optional_url("resource_policy_uri", resource_policy_uri)
        self.resource_tos_uri = _optional_url("resource_tos_uri", resource_tos_uri)
        algs = _strings(
            "resource_signing_alg_values_supported", resource_signing_alg_values_supported
        )
        if algs is not None and "none" in algs:
            # RFC 9728 section 2: "The value none MUST NOT be used."
            raise ConfigurationError("resource_signing_alg_values_supported must not list 'none'")
        self.resource_signing_alg_values_supported = algs
        dpop_algs = _strings("dpop_signing_alg_values_supported", dpop_signing_alg_values_supported)
        if dpop_algs is not None and ("none" in dpop_algs or not dpop_algs):
            # RFC 9449 section 4.2: proofs are signed with an asymmetric algorithm.
            raise ConfigurationError(
                "dpop_signing_alg_values_supported must list algorithms, and never 'none'"
            )
        self.dpop_signing_alg_values_supported = dpop_algs
        if not isinstance(dpop_bound_access_tokens_required, bool):
            raise ConfigurationError("dpop_bound_access_tokens_required must be True or False")
        self.dpop_bound_access_tokens_required = dpop_bound_access_tokens_required
        if isinstance(max_age, bool) or not isinstance(max_age, int) or not 0 <= max_age <= 86400:
            raise ConfigurationError("max_age must be an integer between 0 and 86400")
        self.max_age = max_age
        self._body: bytes | None = None

    def with_authorization_servers(self, servers: Iterable[str]) -> ProtectedResource:
        """A copy naming ``servers`` when this one names none (the middleware's default)."""
        if self.authorization_servers:
            return self
        return self._copy(authorization_servers=servers)

    def describing(
        self,
        *,
        issuers: Iterable[str],
        scopes: Iterable[str] = (),
        dpop_algorithms: Iterable[str] | None = None,
        dpop_required: bool = False,
    ) -> ProtectedResource:
        """A copy that says what a deployment does; the middleware calls it with its configuration.

        Args:
            issuers: every issuer whose tokens the verifier accepts (empty when
                it cannot tell).  They fill an empty ``authorization_servers``;
                an explicit list may name fewer (to steer clients) but never an
                issuer outside them: a client would get tokens that are refused.
            scopes: scopes the deployment checks (required scopes, per-tool
                scopes), added to ``scopes_supported`` after the listed ones.
            dpop_algorithms: the DPoP proof algorithms accepted, or ``None``
                when the ``DPoP`` scheme is not (RFC 9728 section 2).
            dpop_required: only DPoP-bound tokens are accepted.

        Raises:
            ConfigurationError: a member set here contradicts the deployment.
        """
        accepted = tuple(issuers)
        servers = self.authorization_servers or accepted
        strangers = [s for s in servers if accepted and s not in accepted]
        if strangers:
            raise ConfigurationError(
                "resource.authorization_servers names an issuer the verifier does not accept: "
                + " ".join(strangers)
            )
        listed = self.scopes_supported or ()
        merged = tuple(dict.fromkeys((*listed, *scopes)))
        algs = self.dpop_signing_alg_values_supported
        if algs is not None and (dpop_algorithms is None or set(algs) != set(dpop_algorithms)):
            raise ConfigurationError(
                "resource.dpop_signing_alg_values_supported must match dpop.algorithms "
                "(leave it unset: the middleware fills it in)"
            )
        if self.dpop_bound_access_tokens_required and not dpop_required:
            raise ConfigurationError(
                "resource.dpop_bound_access_tokens_required needs dpop= in 'required' mode"
            )
        return self._copy(
            authorization_servers=servers,
            scopes_supported=merged if self.scopes_supported is not None or merged else None,
            dpop_signing_alg_values_supported=(
                None if dpop_algorithms is None else tuple(dpop_algorithms)
            ),
            dpop_bound_access_tokens_required=dpop_required,
        )

    def _copy(self, **changes: Any) -> ProtectedResource:
        options: dict[str, Any] = {
            "authorization_servers": self.authorization_servers,
            "scopes_supported": self.scopes_supported,
            "resource_name": self.resource_name,
            "resource_documentation": self.resource_documentation,
            "resource_policy_uri": self.resource_policy_uri,
            "resource_tos_uri": self.resource_tos_uri,
            "resource_signing_alg_values_supported": self.resource_signing_alg_values_supported,
            "dpop_signing_alg_values_supported": self.dpop_signing_alg_values_supported,
            "dpop_bound_access_tokens_required": self.dpop_bound_access_tokens_required,
            "max_age": self.max_age,
        }
        return ProtectedResource(self.resource, **(options | changes))

    @property
    def metadata_url(self) -> str:
        """Where the document is published, for ``resource_metadata="..."`` in challenges."""
        return metadata_url(self.resource)

    @property
    def paths(self) -> frozenset[str]:
        """Request paths answered with the document.

        The path-inserted form (RFC 9728 section 3.1), and the bare well-known
        path that clients try next (the MCP authorization spec's fallback).
        """
        return frozenset({urlsplit(self.metadata_url).path, WELL_KNOWN_PATH})

    def document(self) -> dict[str, Any]:
        """The metadata as a JSON object; optional members are left out when unset."""
        doc: dict[str, Any] = {"resource": self.resource}
        # Omitted rather than [] when no issuer is known (a verifier that names
        # none): an empty list would claim that no server issues tokens.
        if self.authorization_servers:
            doc["authorization_servers"] = list(self.authorization_servers)
        # RFC 6750 section 2.1 only: tokens in bodies or URLs are never read.
        # A DPoP token travels in the same header (RFC 9449 section 7.1); in
        # required mode dpop_bound_access_tokens_required says it must be bound.
        doc["bearer_methods_supported"] = ["header"]
        optional: dict[str, Any] = {
            "scopes_supported": self.scopes_supported,
            "resource_signing_alg_values_supported": self.resource_signing_alg_values_supported,
            "resource_name": self.resource_name,
            "resource_documentation": self.resource_documentation,
            "resource_policy_uri": self.resource_policy_uri,
            "resource_tos_uri": self.resource_tos_uri,
            "dpop_signing_alg_values_supported": self.dpop_signing_alg_values_supported,
            # RFC 9728 section 2: absent means false, so only true is written.
            "dpop_bound_access_tokens_required": self.dpop_bound_access_tokens_required,
        }
        doc.update({k: list(v) if isinstance(v, tuple) else v for k, v in optional.items() if v})
        return doc

    def response(self, method: str) -> tuple[int, _Headers, bytes]:
        """The status, headers and body answering ``method`` on a metadata path.

        ``GET`` and ``HEAD`` get the document (public, cacheable, readable from
        any origin: it holds nothing secret); an ``OPTIONS`` preflight gets
        204; anything else 405 with ``Allow``.
        """
        if self._body is None:
            self._body = json.dumps(self.document(), separators=(",", ":")).encode()
        body = self._body
        cors = [(b"access-control-allow-origin", b"*")]
        if method in ("GET", "HEAD"):
            headers = [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", f"public, max-age={self.max_age}".encode()),
                *cors,
            ]
            return 200, headers, body if method == "GET" else b""
        if method == "OPTIONS":
            allow = [
                (b"access-control-allow-methods", b"GET, HEAD"),
                (b"access-control-max-age", b"86400"),
            ]
            return 204, [*cors, *allow], b""
        return 405, [(b"allow", b"GET, HEAD, OPTIONS"), (b"content-length", b"0")], b""


def _optional_url(option: str, value: str | None) -> str | None:
    return None if value is None else _url(option, value)
