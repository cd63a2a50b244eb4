"""Serve one benchmark app with uvicorn on an inherited listening socket (run by the HTTP section).

``python -m benchmarks.serve --kind okta_bearer --fd 5 --spec spec.json``: the
spec file holds the issuer, audience, ``kid`` and PEM private key of the
parent's :class:`~okta_bearer.testing.LocalIssuer`, so tokens the parent mints
verify here; keys are fetched through the issuer's in-memory transport.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import socket

import uvicorn
from cryptography.hazmat.primitives.serialization import load_pem_private_key

from okta_bearer.testing import LocalIssuer, SigningKey

from .apps import KINDS, build_app


def main() -> None:
    """Parse arguments and serve until terminated."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.serve")
    parser.add_argument("--kind", choices=KINDS, required=True)
    parser.add_argument("--fd", type=int, required=True, help="listening socket to serve on")
    parser.add_argument("--spec", required=True, help="JSON file: issuer, audience, kid, pem")
    args = parser.parse_args()

    with open(args.spec, encoding="utf-8") as handle:
        spec = json.load(handle)
    private_key = load_pem_private_key(spec["pem"].encode(), password=None)
    issuer = LocalIssuer(spec["issuer"], spec["audience"])
    issuer.keys = [SigningKey(spec["kid"], "RS256", private_key)]
    verifier = issuer.verifier() if args.kind.startswith("okta_bearer") else None
    app = build_app(
        args.kind,
        verifier=verifier,
        public_key=private_key.public_key(),
        issuer=spec["issuer"],
        audience=spec["audience"],
    )
    config = uvicorn.Config(
        app,
        loop="uvloop" if importlib.util.find_spec("uvloop") else "asyncio",
        http="httptools" if importlib.util.find_spec("httptools") else "h11",
        lifespan="off",
        access_log=False,
        log_level="warning",
    )
    sock = socket.socket(fileno=args.fd)
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
