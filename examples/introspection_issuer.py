"""A dev issuer that knows this API's own confidential client, for opaque tokens (RFC 7662).

A resource server asks the issuer about an opaque token at ``/v1/introspect``
and authenticates as a client of its own.  This dev issuer registers that
client with the credentials the examples use by default, so they work unchanged::

    python examples/introspection_issuer.py                    # :9400, as okta-bearer dev-issuer
    uvicorn metrics_app:app --app-dir examples --port 9404     # JWTs and opaque tokens
    curl -H "Authorization: Bearer $(okta-bearer mint --opaque)" http://127.0.0.1:9404/items

The resource server's client is ``0oaresourceserver`` / ``resource-server-secret``
(``RESOURCE_SERVER``; the same as ``okta_bearer.testing.IntrospectionServer``'s),
next to the demo's browser client.  Everything else is the dev issuer of
``okta-bearer dev-issuer``: the same URL, users and endpoints.
"""

from __future__ import annotations

import argparse

from okta_bearer.dev_issuer import DevClient, DevIssuer
from okta_bearer.testing import LocalIssuer

#: The API's own client at the issuer: what it sends to /v1/introspect.
RESOURCE_SERVER = DevClient(
    "0oaresourceserver",
    (),
    client_secret="resource-server-secret",  # noqa: S106 - a published dev credential
)
#: The demo's browser client (the SPA and Swagger UI), first, so `okta-bearer mint` uses it.
BROWSER_CLIENT = DevClient(
    "0oademospa0client0id", ("http://127.0.0.1:9402/", "http://127.0.0.1:9401/docs/oauth2-redirect")
)


def create_issuer(port: int = 9400, host: str = "127.0.0.1") -> DevIssuer:
    """The dev issuer at ``http://{host}:{port}/oauth2/default`` with both clients registered."""
    local = LocalIssuer(f"http://{host}:{port}/oauth2/default", "api://default")
    return DevIssuer(local, clients=[BROWSER_CLIENT, RESOURCE_SERVER], show_credentials=True)


def main(argv: list[str] | None = None) -> None:
    """``python examples/introspection_issuer.py [--port N]``: serve until Ctrl-C."""
    import uvicorn

    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--port", type=int, default=9400, help="port (%(default)s)")
    args = parser.parse_args(argv)
    dev = create_issuer(args.port)
    print(f"dev issuer: {dev.issuer}", flush=True)
    print(f"  introspection client: {RESOURCE_SERVER.client_id} / resource-server-secret")
    print("  sign in as alice@example.com / wonderland", flush=True)
    uvicorn.run(dev, host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
