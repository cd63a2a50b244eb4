"""What the Django tests share: request headers, and a project without the middleware."""

from __future__ import annotations

from django.test import override_settings

#: The project with no middleware: DRF's own classes alone authenticate.
NO_MIDDLEWARE = override_settings(MIDDLEWARE=[])


def bearer(token: str) -> dict[str, str]:
    """Client headers sending ``token`` as a Bearer token."""
    return {"Authorization": f"Bearer {token}"}
