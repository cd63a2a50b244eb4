"""``keygen`` and ``proof``: a DPoP key file and proofs from it (RFC 9449), for curl users.

The key file is the private key as a JWK (RFC 7517) with its ``alg``, written
readable by its owner only.  ``proof`` signs a proof for one request: ``htm``
is the method, ``htu`` the URL without query and fragment (RFC 9449 section
4.2), ``ath`` the hash of the access token when one is given (section 4.2,
for calls to the API; none at the token endpoint, section 5).
"""

from __future__ import annotations

import argparse
import json
import os
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit, urlunsplit

from jwt.algorithms import get_default_algorithms

from ..testing import DPoPKey
from ._common import EXIT_OK, CLIError

#: Algorithms a key file may hold: the asymmetric ones the DPoP checks accept.
KEY_ALGORITHMS = ("ES256", "ES384", "ES512", "EdDSA", "RS256", "PS256")
_HTTP_METHOD = frozenset(
    "!#$%&'*+-.^_`|~0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
)


def _jwk_of(key: DPoPKey) -> dict[str, Any]:
    algorithm = get_default_algorithms()[key.algorithm]
    jwk: dict[str, Any] = json.loads(algorithm.to_jwk(key.private_key))
    jwk["alg"] = key.algorithm
    return jwk


def save_key(path: Path, key: DPoPKey, *, force: bool) -> None:
    """Write ``key`` to ``path`` as a private JWK, mode 0600.

    Raises:
        CLIError: the file exists (without ``force``) or cannot be written.
    """
    flags = os.O_WRONLY | os.O_CREAT | (os.O_TRUNC if force else os.O_EXCL)
    try:
        fd = os.open(path, flags, 0o600)
    except FileExistsError as exc:
        raise CLIError(f"{path} exists; use --force to replace it") from exc
    except OSError as exc:
        raise CLIError(f"cannot write {path}: {exc.strerror}") from exc
    with os.fdopen(fd, "w", encoding="utf-8") as file:
        json.dump(_jwk_of(key), file, indent=2)
        file.write("\n")


def load_key(path: str) -> DPoPKey:
    """The DPoP key in the JWK file ``path``.

    Raises:
        CLIError: the file is missing, not a private JWK, or of an algorithm
            a DPoP proof cannot use.
    """
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise CLIError(
            f"cannot read the key file {path}: {exc.strerror}; "
            "create one with `okta-bearer keygen {path}`"
        ) from exc
    except ValueError as exc:
        raise CLIError(f"the key file {path} is not JSON") from exc
    alg = document.get("alg") if isinstance(document, dict) else None
    if alg not in KEY_ALGORITHMS:
        raise CLIError(f"the key file {path} needs an alg, one of {', '.join(KEY_ALGORITHMS)}")
    try:
        private = get_default_algorithms()[alg].from_jwk(document)
    except Exception as exc:  # PyJWT raises several types for a bad JWK
        raise CLIError(f"the key file {path} does not hold a valid {alg} key") from exc
    if not hasattr(private, "sign"):
        raise CLIError(f"the key file {path} holds a public key; a proof needs the private key")
    return DPoPKey(alg, private_key=private)


def proof_url(url: str) -> str:
    """``url`` as a proof's ``htu``: absolute http(s), query and fragment removed.

    Raises:
        CLIError: not an absolute http or https URL.
    """
    try:
        parts = urlsplit(url)
        valid = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        valid = False
    if not valid:
        raise CLIError(f"--url must be an absolute http:// or https:// URL, got {url!r}")
    return urlunsplit((parts.scheme, parts.netloc, parts.path or "/", "", ""))


def cmd_keygen(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Create a DPoP key file and print its thumbprint."""
    key = DPoPKey(args.algorithm)
    save_key(Path(args.path), key, force=args.force)
    print(f"wrote {args.path} ({args.algorithm}); its thumbprint (cnf.jkt) is {key.jkt}", file=err)
    print(key.jkt, file=out)
    return EXIT_OK


def cmd_proof(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Print a DPoP proof for one request."""
    method = args.method
    if not method or not _HTTP_METHOD.issuperset(method):
        raise CLIError(f"--method must be an HTTP method such as GET or POST, got {method!r}")
    url = proof_url(args.url)
    key = load_key(args.key)
    token = args.token.strip() if args.token is not None else None
    if token is not None and token.lower().startswith(("bearer ", "dpop ")):
        token = token.split(None, 1)[1].strip()
    if token is not None and (not token or not token.isascii()):
        raise CLIError("--token must be the access token itself")
    print(key.proof(method, url, token, nonce=args.nonce), file=out)
    return EXIT_OK
