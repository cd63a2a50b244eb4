"""Django over HTTP: a view under gunicorn, protected by okta_bearer and not, interleaved.

``python -m benchmarks.django_wsgi [--rounds 5] [--duration 5] [--worker-class sync]``:
as ``python -m benchmarks.wsgi`` (the same gunicorn shapes, load generator,
interleaving and report), with the Django project of
``benchmarks/django_app.py``: a plain Django view unprotected, behind
``BearerAuthMiddleware``, and with ``@require_scopes`` too; and a DRF
``APIView`` unprotected and with ``BearerAuthentication`` + ``HasScopes``.
Each protected app is compared with the same view unprotected (the Django
view, or the DRF view).
"""

from __future__ import annotations

import argparse

from ._common import machine_facts
from .wsgi import Gunicorn, measure, report


def run(
    *, rounds: int, duration: float, connections: int = 8, worker_class: str = "gthread"
) -> str:
    """Run the Django section and return its report."""
    servers = [
        Gunicorn("django", "unprotected Django view"),
        Gunicorn("django+okta_bearer", "BearerAuthMiddleware, repeated token", "django"),
        Gunicorn("django+scopes", "BearerAuthMiddleware + require_scopes", "django"),
        Gunicorn("drf", "unprotected DRF APIView", "drf"),
        Gunicorn("drf+okta_bearer", "DRF BearerAuthentication + HasScopes", "drf"),
    ]
    measure(
        servers,
        "benchmarks.django_app:app",
        rounds=rounds,
        duration=duration,
        connections=connections,
        worker_class=worker_class,
        name="django",
    )
    return report(
        servers,
        framework="Django",
        rounds=rounds,
        duration=duration,
        connections=connections,
        worker_class=worker_class,
    )


def main() -> None:
    """Parse arguments, run the section, print the report."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.django_wsgi")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=5.0)
    parser.add_argument("--connections", type=int, default=8)
    parser.add_argument("--worker-class", choices=("gthread", "sync"), default="gthread")
    args = parser.parse_args()
    print("\n".join(machine_facts()))
    print()
    print(
        run(
            rounds=args.rounds,
            duration=args.duration,
            connections=args.connections,
            worker_class=args.worker_class,
        )
    )


if __name__ == "__main__":
    main()
